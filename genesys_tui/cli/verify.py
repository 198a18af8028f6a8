"""``genesys verify DESIGN --rung R``: check, train, evaluate and score a design in one call.

A design of the reference library (the project's own code) runs in this process with every
option. Any other design directory is a model's code, so it is verified as the loop verifies
it: checked, trained in a walled cell, its bits per byte and the rung's tasks scored on the
trained model's graph by an auditor cell, so the design cannot forge its score; the options
that need its code in this process (``IN_PROCESS``) then ask for ``--no-sandbox``.

Exit status 1 when the design is rejected by the checker or its run diverges (the reason is
printed; with ``--json`` it is the ``reason`` field); 2 for bad input.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


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
    p.add_argument(
        "--no-sandbox", action="store_true",
        help="run a design directory's code in this process, without the wall (not "
        "recommended; what --tasks, --probes, --blimp-dir, --limit, --files and --out need on "
        "a design that is not from the library)",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.set_defaults(func=run)


#: Options whose work runs the design's code in this process (flag -> whether it was given).
IN_PROCESS = {
    "--tasks": lambda a: list(a.tasks) != ["genblimp", "heldout_lastword"],
    "--probes": lambda a: bool(a.probes),
    "--blimp-dir": lambda a: a.blimp_dir is not None,
    "--limit": lambda a: a.limit is not None,
    "--files": lambda a: a.files is not None,
    "--out": lambda a: a.out is not None,
}


def run(args: argparse.Namespace) -> int:
    from genesys_tui.design import load_design
    from genesys_tui.ladder import find_rung
    from genesys_tui.resources import is_library_design

    rung = find_rung(args.rung, args.ladder)
    design = load_design(args.design)  # a missing or malformed design fails here, in one line
    if is_library_design(args.design):
        result = _in_process(args, rung)
    elif args.no_sandbox:
        print("genesys: UNSANDBOXED: the design's code runs in this process (--no-sandbox)",
              file=sys.stderr)  # fmt: skip
        result = _in_process(args, rung)
    else:
        result = _walled(args, design, rung)
    return _print(result, args.json)


def _in_process(args: argparse.Namespace, rung: Any) -> Any:
    import torch

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
    if not args.json:
        print(f"verifying {args.design} at rung {rung.name} ...", file=sys.stderr)
    return verify(args.design, rung, settings, out_dir=args.out)


def _walled(args: argparse.Namespace, design: Any, rung: Any) -> Any:
    """``design`` verified as the loop verifies it (``evolve.jobs``): ConfigError first where
    an option needs its code in this process, SandboxUnavailable where no wall can be made."""
    import time

    from genesys_tui import wall
    from genesys_tui.errors import ConfigError
    from genesys_tui.evolve.jobs import run_check, verify_host
    from genesys_tui.ladder import builtin_ladders, load_ladder
    from genesys_tui.results import RungResult
    from genesys_tui.verify.verify import TASKS_MIN_TOKENS, VerifyResult, failed_result

    asked = [flag for flag, given in IN_PROCESS.items() if given(args)]
    if asked:
        raise ConfigError(
            f"{', '.join(asked)} would run {design.name}'s code in this process; a design that "
            "is not from the library is verified in the sandbox with the rung's own tasks: "
            "leave them out, or add --no-sandbox"
        )
    gpu = _gpu(args.device)
    wall.current()
    ladder = args.ladder or next(name for name, lad in builtin_ladders().items()
                                 if any(r.name == rung.name for r in lad))  # fmt: skip
    if not args.json:
        print(f"verifying {args.design} at rung {rung.name} in the sandbox ...", file=sys.stderr)
    seconds: dict[str, float] = {}
    check = None
    if not args.no_check:
        t0 = time.perf_counter()
        # the checker sizes its budget from a built-in rung, as the loop and `study noise` do
        builtin = load_ladder(ladder).builtin
        check = run_check(str(design.path), rung.name if builtin else None)
        seconds["check"] = time.perf_counter() - t0
        if not check.ok:
            reason = f"rejected by the checker: {check.summary}"
            return failed_result(design.name, rung.name, reason, seconds, check=check.to_wire())
    min_tokens = TASKS_MIN_TOKENS if args.tasks_min_tokens is None else args.tasks_min_tokens
    result = RungResult.from_wire(verify_host(
        str(design.path), rung.name, ladder=ladder, seed=args.seed, pairs=args.pairs,
        tasks_min_tokens=min_tokens, threads=args.threads, gpu=gpu,
        timeout=86400.0))  # fmt: skip
    seconds["verify"] = result.seconds
    check_wire = check.to_wire() if check is not None else None
    if not result.ok:
        return failed_result(design.name, rung.name, result.reason, seconds, check=check_wire)
    return VerifyResult(
        design=design.name, rung=rung.name, ok=True, reason=None, bpb=result.bpb,
        val_loss=None, evals=dict(result.evals), fitness=result.score,
        tokens_per_second=float(result.scores.get("tokens_per_second", 0.0)),
        tokens=result.tokens, params=result.params, non_embedding_params=0, seconds=seconds,
        weights_sha256="", checkpoint=None, check=check_wire,
        notes=[*result.notes, "walled: trained in a bubblewrap cell; bpb and tasks scored on "
               "the trained model's graph by the auditor"],
    )  # fmt: skip


def _gpu(device: str) -> str:
    """The CUDA device a walled run is given for ``--device`` ("": the CPU)."""
    from genesys_tui.errors import ConfigError

    if device == "cpu":
        return ""
    import torch

    if device == "auto":
        return "0" if torch.cuda.is_available() else ""
    kind, _, index = device.partition(":")
    if kind != "cuda" or not (index or "0").isdigit():
        raise ConfigError(f"--device must be auto, cpu, cuda or cuda:N, got {device!r}")
    return index or "0"


def _print(result: Any, as_json: bool) -> int:
    if as_json:
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
