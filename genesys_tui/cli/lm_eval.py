"""``genesys lm-eval ARGS...``: lm-eval's own command line, with our models registered.

lm-eval 0.4 has no plugin discovery for models, so this registers ``genesys`` (a checkpoint:
``--model_args checkpoint=PATH``) and ``genesys-ngram`` (the word n-gram baselines:
``--model_args order=2``), then hands every argument to lm-eval's CLI entry point unchanged::

    genesys eval runs/gpt-s/checkpoint.pt --tasks genblimp_a_an --tasks-dir evaltasks
    genesys lm-eval run --model genesys --model_args checkpoint=runs/gpt-s/checkpoint.pt \\
        --tasks genblimp_a_an --include_path evaltasks

Two things differ from plain lm-eval: without ``--device`` the device is CUDA when present, else
the CPU (lm-eval's own default is ``cuda:0``, which fails on a CPU machine), as everywhere in
Genesys; and a missing ``--include_path`` folder or an unknown task is one line saying what to
do, not a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys

from genesys_tui.errors import VerifyError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "lm-eval",
        help="lm-eval's own command line, with the 'genesys' model registered",
        description="Run lm-eval's CLI (every argument passed through unchanged) with the "
        "models 'genesys' (--model_args checkpoint=PATH) and 'genesys-ngram' registered.",
        add_help=False,  # --help belongs to lm-eval
        prefix_chars="\0",  # no options of ours: every argument, dashes included, is lm-eval's
    )
    p.add_argument("lm_eval_args", nargs=argparse.REMAINDER)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return main(list(args.lm_eval_args))


def _option(argv: list[str], name: str) -> str | None:
    """The value of ``--name VALUE`` or ``--name=VALUE`` in ``argv``; None when absent."""
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def prepare(argv: list[str]) -> list[str]:
    """``argv`` with our defaults filled in; VerifyError for a task folder that is not there."""
    argv = list(argv)
    evaluating = "--model" in argv or any(a.startswith("--model=") for a in argv)
    if evaluating and _option(argv, "--device") is None:
        import torch

        argv += ["--device", "cuda" if torch.cuda.is_available() else "cpu"]
    include = _option(argv, "--include_path")
    if include is not None:
        missing = [p for p in include.split(os.pathsep) if p and not os.path.isdir(p)]
        if missing:
            raise VerifyError(
                f"no task folder {missing[0]!r}: write our tasks into it first, e.g. "
                f"genesys eval CHECKPOINT --tasks genblimp --tasks-dir {missing[0]} "
                "(or leave --include_path out for lm-eval's own tasks)"
            )
    return argv


def main(argv: list[str]) -> int:
    """Register our models and run lm-eval's CLI on ``argv``; its exit status."""
    from lm_eval.__main__ import cli_evaluate

    import genesys_tui.verify.evals.baselines
    import genesys_tui.verify.evals.lm_model  # noqa: F401  (registers the lm-eval models)

    saved = sys.argv
    sys.argv = ["lm-eval", *prepare(argv)]
    try:
        cli_evaluate()
    except SystemExit as exc:  # argparse and --help exit; pass their status on
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    except ValueError as exc:
        if str(exc).startswith("Tasks not found"):
            include = _option(argv, "--include_path")
            raise VerifyError(
                f"lm-eval: {exc}"
                + (
                    f" in {include!r} or among its own tasks; write them with genesys eval "
                    f"CHECKPOINT --tasks NAME... --tasks-dir {include}"
                    if include
                    else "; our tasks need --include_path DIR, written by genesys eval "
                    "CHECKPOINT --tasks NAME... --tasks-dir DIR"
                )
            ) from None
        raise
    finally:
        sys.argv = saved
    return 0
