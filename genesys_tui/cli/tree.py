"""``genesys tree``: the phylogeny of a namespace as an indented text tree."""

from __future__ import annotations

import argparse

from genesys_tui.cli._repo_args import add_repo_options, open_repo


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tree", help="print the family tree of a namespace's designs")
    add_repo_options(p)
    p.add_argument("--from", dest="root", metavar="ID", help="only this design's descendants")
    p.add_argument(
        "--depth", type=int, default=None, help="generations to draw below each root (default: all)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from genesys_tui.store.phylo import phylogeny

    with open_repo(args) as repo:
        root = repo.get(args.root).id if args.root else None
        print(phylogeny(repo.records(), root=root, max_depth=args.depth))
    return 0
