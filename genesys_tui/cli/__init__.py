"""The ``genesys`` command. Each subcommand lives in a module of this package that defines
``register(subparsers)``; heavy imports (torch, textual) happen inside the command, so
``genesys --help`` stays fast.

Exit status: 0 success, 1 the thing examined failed (a design rejected, a run diverged),
2 a usage or I/O error.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from genesys_tui import __version__
from genesys_tui.cli import dashboard
from genesys_tui.errors import GenesysError

#: Subcommand modules, in the order ``genesys --help`` lists them.
COMMANDS = [
    "library", "show", "check", "train", "verify", "eval", "lm-eval", "generate", "export",
    "evolve", "stats", "log", "diff", "tree", "index", "bench", "study",
]  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="genesys",
        description="Discover new language-model block designs: design, check, train, evolve.",
        epilog="With no command, genesys opens the dashboard (in a terminal; else this help).",
        # argparse reads every --option on the line, a subcommand's too, against this parser's
        # own; with abbreviations on, a subcommand's --design would be refused as ambiguous
        # between --designs-dir and --designer, or worse taken as one of them.
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"genesys {__version__}")
    dashboard.add_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"genesys_tui.cli.{name.replace('-', '_')}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    misplaced = dashboard.given(args) if args.command else []
    if misplaced:  # `genesys --namespace NS stats`: the option would be silently dropped
        parser.error(
            f"{' '.join(misplaced)} before a command {'is' if len(misplaced) == 1 else 'are'} "
            f"the dashboard's; put command options after the command: genesys {args.command} "
            f"{misplaced[0]} ..."
        )
    if func is None:
        if not dashboard.has_terminal():  # nothing to draw a dashboard on: say what there is
            parser.print_help()
            return 0
        func = dashboard.open_dashboard
    try:
        return int(func(args) or 0)
    except GenesysError as exc:
        print(f"genesys: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("genesys: interrupted", file=sys.stderr)
        return 130
