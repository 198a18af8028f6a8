"""``genesys lm-eval ARGS...``: lm-eval's own command line, with our models registered.

lm-eval 0.4 has no plugin discovery for models, so this registers ``genesys`` (a checkpoint:
``--model_args checkpoint=PATH``) and ``genesys-ngram`` (the word n-gram baselines:
``--model_args order=2``), then hands every argument to lm-eval's CLI entry point unchanged::

    genesys lm-eval run --model genesys --model_args checkpoint=runs/gpt/cpu-s/checkpoint.pt \\
        --tasks blimp_anaphor_gender_agreement --include_path DIR
"""

from __future__ import annotations

import argparse
import sys


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


def main(argv: list[str]) -> int:
    """Register our models and run lm-eval's CLI on ``argv``; its exit status."""
    from lm_eval.__main__ import cli_evaluate

    import genesys_tui.verify.evals.baselines
    import genesys_tui.verify.evals.lm_model  # noqa: F401  (registers the lm-eval models)

    saved = sys.argv
    sys.argv = ["lm-eval", *argv]
    try:
        cli_evaluate()
    except SystemExit as exc:  # argparse and --help exit; pass their status on
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    finally:
        sys.argv = saved
    return 0
