"""``genesys library``: the reference designs with their roles and parameter counts."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("library", help="list the reference designs and their parameter counts")
    p.add_argument("--d-model", type=int, default=256, help="width to count parameters at")
    p.add_argument("--n-layers", type=int, default=4, help="depth to count parameters at")
    p.add_argument("--vocab-size", type=int, default=4096, help="vocabulary to count at")
    p.add_argument("--json", action="store_true", help="print one JSON object per design")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from genesys_tui.config import ModelConfig
    from genesys_tui.design import load_design
    from genesys_tui.resources import library_designs
    from genesys_tui.units.lm import build_lm

    config = ModelConfig(
        d_model=args.d_model, n_layers=args.n_layers, vocab_size=args.vocab_size, context_length=256
    )
    rows: list[dict[str, Any]] = []
    for path in library_designs():
        design = load_design(path)
        model = build_lm(design, config, seed=0)
        roles = sorted({node.role for node in design.units.values()})
        rows.append(
            {
                "name": design.name,
                "roles": roles,
                "params": model.num_params(),
                "non_embedding_params": model.num_params(non_embedding=True),
                "description": design.description,
            }
        )
    gpt = next((r["non_embedding_params"] for r in rows if r["name"] == "gpt"), None)
    for r in rows:
        r["vs_gpt"] = round(r["non_embedding_params"] / gpt, 3) if gpt else None
    if args.json:
        for r in rows:
            print(json.dumps(r))
        return 0
    print(
        f"Reference designs at d_model={args.d_model}, n_layers={args.n_layers}, "
        f"vocab={args.vocab_size}"
    )
    print(f"{'name':<10} {'params':>10} {'non-emb':>10} {'vs gpt':>7}  roles")
    for r in rows:
        ratio = f"{r['vs_gpt']:.2f}" if r["vs_gpt"] is not None else "-"
        print(
            f"{r['name']:<10} {r['params']:>10,} {r['non_embedding_params']:>10,} "
            f"{ratio:>7}  {', '.join(r['roles'])}"
        )
    return 0
