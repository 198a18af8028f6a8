"""``genesys generate CHECKPOINT --prompt TEXT``: a continuation of the prompt.

Decoding keeps each unit's state between tokens (a key/value cache for attention, the recurrent
state of Mamba-2, RetNet, RWKV-7 and TTT) where every unit of the design can; otherwise it says
so once and recomputes the whole prefix for every token. A library design or design directory
in place of the checkpoint runs untrained weights at ``--rung``'s size (for speed measurements).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate",
        help="continue a prompt with a trained checkpoint (cached decoding)",
        description=__doc__.split("\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "model", metavar="CHECKPOINT_OR_DESIGN",
        help="a checkpoint (genesys train / verify), or a design: untrained weights",
    )  # fmt: skip
    p.add_argument("--prompt", required=True, help="the text to continue")
    p.add_argument("--max-new-tokens", type=int, default=64, help="tokens to add (default 64)")
    p.add_argument("--temperature", type=float, default=0.0, help="0: greedy (the default)")
    p.add_argument("--top-k", type=int, default=None, help="sample among the k likeliest")
    p.add_argument("--seed", type=int, default=0, help="sampling seed")
    p.add_argument("--no-cache", action="store_true", help="recompute the prefix every token")
    p.add_argument("--rung", default="cpu-xs", help="size of an untrained design's model")
    p.add_argument("--device", default="cpu", help="cpu, cuda, ...")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from genesys_tui.errors import GenesysError

    if args.max_new_tokens < 1:
        raise GenesysError(f"--max-new-tokens must be at least 1, got {args.max_new_tokens}")
    if args.temperature < 0 or (args.top_k is not None and args.top_k < 1):
        raise GenesysError("--temperature must be >= 0 and --top-k >= 1")
    model, tokenizer = _load(args)
    ids = tokenizer.encode(args.prompt) or [tokenizer.eot_id]
    use_cache = not args.no_cache and model.can_cache()
    if not args.no_cache and not use_cache:
        print(
            "genesys: these units cannot decode with a cache, so every token recomputes the "
            f"prefix: {', '.join(model.uncached_units())}",
            file=sys.stderr,
        )
    x = torch.tensor([ids], dtype=torch.long, device=args.device)
    t0 = time.perf_counter()
    out = model.generate(
        x, args.max_new_tokens, use_cache=use_cache, temperature=args.temperature,
        top_k=args.top_k, generator=torch.Generator(device=args.device).manual_seed(args.seed),
    )  # fmt: skip
    seconds = time.perf_counter() - t0
    new = out[0, len(ids) :].tolist()
    print(tokenizer.decode(new))
    how = "cached" if use_cache else "recomputed"
    print(
        f"genesys: {len(new)} tokens in {seconds:.2f} s ({len(new) / seconds:.1f} tokens/s, {how})",
        file=sys.stderr,
    )
    return 0


def _load(args: argparse.Namespace):  # -> (LanguageModel, Tokenizer)
    from genesys_tui.config import ModelConfig
    from genesys_tui.design import load_design
    from genesys_tui.errors import GenesysError
    from genesys_tui.ladder import load_ladder
    from genesys_tui.resources import library_dir
    from genesys_tui.units.lm import build_lm
    from genesys_tui.verify.checkpoint import load_checkpoint
    from genesys_tui.verify.tokenizer import load_tokenizer

    path = Path(args.model)
    if path.is_file():
        model, meta = load_checkpoint(path, device=args.device)
        return model, load_tokenizer(meta.tokenizer)
    if not path.is_dir() and (library_dir() / args.model).is_dir():
        path = library_dir() / args.model
    if not path.is_dir():
        raise GenesysError(
            f"{args.model!r} is neither a checkpoint file nor a design (a library design or a "
            "design directory)"
        )
    rung = load_ladder("cpu").rung(args.rung)
    tokenizer = load_tokenizer(rung.tokenizer)
    config = ModelConfig(
        d_model=rung.d_model, n_layers=rung.n_layers, vocab_size=tokenizer.vocab_size,
        context_length=rung.context_length,
    )  # fmt: skip
    print(f"genesys: untrained weights of {path.name} at {rung.name}'s size", file=sys.stderr)
    model = build_lm(load_design(path), config, seed=args.seed)
    return model.to(args.device).eval(), tokenizer
