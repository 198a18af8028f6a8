"""``genesys stats``: the designers' statistics for a namespace, as the seed paper reports them
(valid-design rate, attempts, cost and lines of code per design)."""

from __future__ import annotations

import argparse

from genesys_tui.cli._repo_args import add_repo_options, open_repo


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "stats",
        help="designer statistics: valid-design rate, attempts, cost and lines of code per design",
    )
    add_repo_options(p)
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from genesys_tui.agents.stats import by_designer, collect, format_table, to_json

    with open_repo(args) as repo:
        rows = by_designer(collect(repo))
    if args.json:
        print(to_json(rows))
    elif not rows or rows[-1].designs == 0:
        print("no designed designs yet (library seeds are not counted)")
    else:
        print(format_table(rows))
    return 0
