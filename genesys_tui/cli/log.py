"""``genesys log [--graph]``: the designs of a namespace, newest first, from the index."""

from __future__ import annotations

import argparse
import json

from genesys_tui.cli._repo_args import add_repo_options, open_repo
from genesys_tui.scores import format_fitness
from genesys_tui.store.records import STATUSES, DesignRecord

_MARK = "\x1e"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("log", help="list the designs of a namespace (--graph: the family graph)")
    add_repo_options(p)
    p.add_argument(
        "--graph",
        action="store_true",
        help="draw the family graph (git log --graph over every design)",
    )
    p.add_argument("--status", choices=sorted(STATUSES), help="only designs with this status")
    p.add_argument("-N", "--limit", type=int, default=0, help="at most this many (0: all)")
    p.add_argument("--json", action="store_true", help="one JSON record per line")
    p.set_defaults(func=run)


def format_record(r: DesignRecord, id_width: int = 0) -> str:
    """One line: id, status, fitness, designer, parents, title."""
    fitness = format_fitness(r.fitness)
    parents = f"<- {', '.join(r.parents)}" if r.parents else f"({r.origin})"
    return (
        f"{r.id:<{id_width}}  {r.status:<8}  fit {fitness:<7}  {r.designer:<16}  "
        f"{parents:<24}  {r.title}"
    )


def run(args: argparse.Namespace) -> int:
    with open_repo(args) as repo:
        records = repo.records()
        width = max((len(r.id) for r in records), default=0)  # the same columns when filtered
        if args.status:
            records = [r for r in records if r.status == args.status]
        if args.json:
            for r in reversed(records[-args.limit :] if args.limit else records):
                print(json.dumps(r.to_dict()))
            return 0
        if not args.graph:
            shown = records[-args.limit :] if args.limit else records
            print("\n".join(format_record(r, width) for r in reversed(shown)))
            return 0
        # The graph keeps every design so that lines connect; --status shortens the others.
        by_commit = {r.commit: r for r in repo.records()}  # every design, filtered or not
        wanted = {r.commit for r in records}
        git_args = ["log", "--graph", "--topo-order", f"--format={_MARK}%H"]
        if args.limit:
            git_args.append(f"--max-count={args.limit}")
        lines = []
        for line in repo.git(*git_args, "--tags", "--").rstrip("\n").split("\n"):
            graph, mark, commit = line.partition(_MARK)
            record = by_commit.get(commit)
            if not mark:
                lines.append(graph.rstrip())
            elif record is None:
                lines.append(f"{graph}{commit[:10]} (not in the index yet)")
            elif commit in wanted:
                lines.append(graph + format_record(record, width))
            else:
                lines.append(f"{graph}{record.id}")
        print("\n".join(lines))
    return 0
