"""``genesys bench DESIGN``: training throughput of a design, optionally against plain PyTorch.

``genesys bench --scaling DESIGN... | --all``: forward + backward time against sequence length.
"""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench", help="training throughput (tokens/s), or time against length (--scaling)"
    )
    p.add_argument(
        "design",
        nargs="*",
        help="a design directory or the name of a library design (with --scaling: several)",
    )
    p.add_argument(
        "--scaling",
        action="store_true",
        help="time forward + backward at growing sequence lengths and print time(4T)/time(T): "
        "about 4 for linear time (defaults then: d_model 128, 2 layers, batch 1)",
    )
    p.add_argument("--all", action="store_true", help="with --scaling: every library design")
    p.add_argument(
        "--lengths",
        default="512,1024,2048,4096",
        help="with --scaling: comma-separated sequence lengths (default: %(default)s)",
    )
    p.add_argument("--repeats", type=int, default=3, help="with --scaling: timed rounds")
    p.add_argument(
        "--vs-plain",
        action="store_true",
        help="also time a hand-written plain PyTorch GPT of identical shape, "
        "alternating runs, and print framework / plain",
    )
    p.add_argument("--d-model", type=int, help="default: 256; 128 with --scaling")
    p.add_argument("--n-layers", type=int, help="default: 4; 2 with --scaling")
    p.add_argument("--context", type=int, default=256)
    p.add_argument("--batch", type=int, help="default: 8; 1 with --scaling")
    p.add_argument("--vocab-size", type=int, help="default: 4096; 512 with --scaling")
    p.add_argument("--steps", type=int, default=3, help="training steps per timed round")
    p.add_argument("--rounds", type=int, default=7, help="timed rounds per model")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from genesys_tui.bench.plain_gpt import PlainGPT
    from genesys_tui.bench.throughput import compare
    from genesys_tui.config import ModelConfig
    from genesys_tui.design import load_design
    from genesys_tui.errors import ConfigError
    from genesys_tui.units.lm import build_lm

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.scaling:
        return run_scaling(args)
    if len(args.design) != 1 or args.all:
        raise ConfigError("bench takes exactly one DESIGN (several, or --all, only with --scaling)")
    design = load_design(args.design[0])
    _fill(args, d_model=256, n_layers=4, batch=8, vocab_size=4096)
    config = ModelConfig(
        d_model=args.d_model,
        n_layers=args.n_layers,
        vocab_size=args.vocab_size,
        context_length=args.context,
    )
    models: dict[str, torch.nn.Module] = {design.name: build_lm(design, config, seed=0)}
    if args.vs_plain:
        attn = next((n for n in design.units.values() if n.cls == "CausalSelfAttention"), None)
        n_heads = int(attn.args.get("n_heads", 4)) if attn else 4
        models["plain"] = PlainGPT(
            args.vocab_size, args.d_model, args.n_layers, n_heads, args.context
        )
    results = compare(
        models,
        batch=args.batch,
        context=args.context,
        vocab=args.vocab_size,
        steps=args.steps,
        rounds=args.rounds,
    )
    out = {
        "design": design.name,
        "d_model": args.d_model,
        "n_layers": args.n_layers,
        "context": args.context,
        "batch": args.batch,
        "threads": torch.get_num_threads(),
        "tokens_per_second": {r.name: round(r.tokens_per_second, 1) for r in results},
    }
    if args.vs_plain:
        out["ratio_vs_plain"] = round(
            results[0].tokens_per_second / results[1].tokens_per_second, 4
        )
    if args.json:
        print(json.dumps(out))
        return 0
    print(
        f"training throughput at d_model={args.d_model}, n_layers={args.n_layers}, "
        f"context={args.context}, batch={args.batch}, {out['threads']} threads "
        f"(median of {args.rounds} alternating rounds)"
    )
    for r in results:
        print(f"  {r.name:<12} {r.tokens_per_second:>10,.0f} tokens/s")
    if args.vs_plain:
        print(f"  framework / plain = {out['ratio_vs_plain']:.3f}")
    return 0


def _fill(args: argparse.Namespace, **defaults: int) -> None:
    # Throughput and scaling runs want different sizes; flags left out take the mode's default.
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)


def run_scaling(args: argparse.Namespace) -> int:
    import torch

    from genesys_tui.bench.scaling import ScalingSettings, format_table, measure
    from genesys_tui.design import load_design
    from genesys_tui.errors import ConfigError
    from genesys_tui.resources import library_designs

    if bool(args.design) == args.all:
        raise ConfigError("bench --scaling takes one or more DESIGNs, or --all")
    _fill(args, d_model=128, n_layers=2, batch=1, vocab_size=512)
    try:
        lengths = tuple(int(t) for t in args.lengths.split(","))
    except ValueError:
        raise ConfigError(
            f"--lengths must be comma-separated integers, got {args.lengths!r}"
        ) from None
    settings = ScalingSettings(
        lengths=lengths,
        d_model=args.d_model,
        n_layers=args.n_layers,
        batch=args.batch,
        vocab_size=args.vocab_size,
        repeats=args.repeats,
    )
    designs = [load_design(p) for p in (library_designs() if args.all else args.design)]
    results = measure(designs, settings)
    if args.json:
        short, long = settings.ratio_pair()
        for r in results:
            out = {
                "design": r.name,
                "d_model": settings.d_model,
                "n_layers": settings.n_layers,
                "batch": settings.batch,
                "threads": torch.get_num_threads(),
                "seconds": {str(T): round(v, 5) for T, v in r.seconds.items()},
                f"ratio_{long}_{short}": round(r.ratio(short, long), 3),
            }
            print(json.dumps(out))
        return 0
    print(format_table(results, settings))
    return 0
