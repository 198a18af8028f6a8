"""``genesys bench DESIGN``: training throughput of a design, optionally against plain PyTorch."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="measure a design's training throughput (tokens/s)")
    p.add_argument("design", help="a design directory or the name of a library design")
    p.add_argument(
        "--vs-plain",
        action="store_true",
        help="also time a hand-written plain PyTorch GPT of identical shape, "
        "alternating runs, and print framework / plain",
    )
    p.add_argument("--d-model", type=int, default=256)
    p.add_argument("--n-layers", type=int, default=4)
    p.add_argument("--context", type=int, default=256)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--vocab-size", type=int, default=4096)
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
    from genesys_tui.units.lm import build_lm

    if args.threads:
        torch.set_num_threads(args.threads)
    design = load_design(args.design)
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
