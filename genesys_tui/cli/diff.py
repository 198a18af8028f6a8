"""``genesys diff ID [ID2]``: what a design changed, as ``git diff`` shows it."""

from __future__ import annotations

import argparse

from genesys_tui.cli._repo_args import add_repo_options, open_repo


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("diff", help="show a design's change against its parent(s) or ID2")
    p.add_argument("design", help="design id (gpt-12), number (12) or commit prefix")
    p.add_argument("other", nargs="?", help="compare against this design instead of the parent(s)")
    add_repo_options(p)
    p.add_argument("--stat", action="store_true", help="only the changed files and line counts")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with open_repo(args) as repo:
        extra = ["--stat"] if args.stat else []
        text = repo.diff(args.design, args.other, *extra)
        record = repo.get(args.design)
        if args.other is None and not record.parents:
            print(f"# {record.id} has no parent ({record.origin}): every file is new")
        print(text, end="" if text.endswith("\n") or not text else "\n")
    return 0
