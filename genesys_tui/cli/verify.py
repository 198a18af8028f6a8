"""``genesys verify DESIGN --rung R``: check, train, evaluate and score a design in one call.

Exit status 1 when the design is rejected by the checker or its run diverges (the reason is
printed; with ``--json`` it is the ``reason`` field).
"""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "verify",
        help="check, train, evaluate and score a design at a rung",
        description="Check DESIGN, train it at --rung, evaluate the trained weights through "
        "lm-eval and print its fitness. --json prints one object with rung, bpb, evals "
        "(task -> accuracy), fitness, tokens_per_second and more.",
    )
    p.add_argument("design", help="a design directory or the name of a library design")
    p.add_argument(
        "--rung", required=True, help="cpu-xs, cpu-s8, cpu-s, cpu-m, 14M, ... (see train)"
    )
    p.add_argument("--ladder", default=None, help="cpu, paper or a ladder TOML file")
    p.add_argument(
        "--tasks",
        nargs="*",
        default=["genblimp", "heldout_lastword"],
        help="lm-eval tasks (see eval; default: genblimp heldout_lastword)",
    )
    p.add_argument("--probes", nargs="*", default=[], help="synthetic probes: mqar, selective_copy")
    p.add_argument("--blimp-dir", default=None, help="directory of BLiMP's jsonl files")
    p.add_argument(
        "--pairs", type=int, default=0, help="generated pairs per phenomenon (0: by rung)"
    )
    p.add_argument("--limit", type=int, default=None, help="at most N documents per task")
    p.add_argument(
        "--tasks-min-tokens",
        type=int,
        default=None,
        metavar="N",
        help="skip --tasks on rungs training fewer than N tokens (default 1,000,000: below it "
        "the tasks sit at chance; 0 evaluates on every rung)",
    )
    p.add_argument("--no-check", action="store_true", help="skip the checker")
    p.add_argument(
        "--files", default=None, help="train on local .txt/.jsonl files (default: embedded corpus)"
    )
    p.add_argument("--out", default=None, help="keep the checkpoint in this directory")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from genesys_tui.ladder import find_rung
    from genesys_tui.verify.corpus import CorpusSource
    from genesys_tui.verify.verify import TASKS_MIN_TOKENS, VerifySettings, verify

    if args.threads:
        torch.set_num_threads(args.threads)
    settings = VerifySettings(
        tasks=tuple(args.tasks),
        pairs=args.pairs,
        tasks_min_tokens=(
            TASKS_MIN_TOKENS if args.tasks_min_tokens is None else args.tasks_min_tokens
        ),
        probes=tuple(args.probes),
        blimp_dir=args.blimp_dir,
        limit=args.limit,
        check=not args.no_check,
        seed=args.seed,
        device=args.device,
        corpus=CorpusSource(kind="files", path=args.files) if args.files else CorpusSource(),
    )
    rung = find_rung(args.rung, args.ladder)
    if not args.json:
        print(f"verifying {args.design} at rung {rung.name} ...", file=sys.stderr)
    result = verify(args.design, rung, settings, out_dir=args.out)
    if args.json:
        print(result.to_json())
        return 0 if result.ok else 1
    if not result.ok:
        print(f"{result.design} at {result.rung}: not verified: {result.reason}")
        return 1
    print(f"{result.design} at {result.rung}")
    for note in result.notes:
        print(f"  note: {note}")
    print(f"  bits per byte      {result.bpb:.4f}")
    print(f"  fitness            {result.fitness:.4f}")
    print(f"  tokens per second  {result.tokens_per_second:,.0f}")
    for task, acc in result.evals.items():
        print(f"  {task:<40} {acc:.3f}")
    print("  seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in result.seconds.items()))
    return 0
