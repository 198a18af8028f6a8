"""``genesys index rebuild|status``: the TinyDB index of a designs repository."""

from __future__ import annotations

import argparse
import time
from collections import Counter

from genesys_tui.cli._repo_args import add_repo_options, open_repo


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("index", help="rebuild or inspect a namespace's design index")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    rebuild = actions.add_parser("rebuild", help="regenerate the index from the repository alone")
    add_repo_options(rebuild)
    rebuild.set_defaults(func=run_rebuild)
    status = actions.add_parser("status", help="where the index is and what it holds")
    add_repo_options(status)
    status.set_defaults(func=run_status)


def run_rebuild(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    with open_repo(args, writer=True) as repo:
        count = repo.rebuild_index()
        print(
            f"rebuilt {repo.index_path} from {repo.path}: {count} designs "
            f"in {time.perf_counter() - start:.2f} s"
        )
    return 0


def run_status(args: argparse.Namespace) -> int:
    with open_repo(args) as repo:
        records = repo.records()
        counts = Counter(r.status for r in records)
        print(f"index {repo.index_path}")
        print(
            f"{len(records)} designs: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        )
        print(f"reflects notes commit {repo.index.state['notes_head'] or '(none)'}")
    return 0
