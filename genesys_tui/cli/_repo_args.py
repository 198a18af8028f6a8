"""Shared options of the commands that read a designs repository: ``--namespace`` / ``--repo``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from genesys_tui.errors import StoreError

if TYPE_CHECKING:
    from genesys_tui.store.repo import DesignsRepo


def add_repo_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "-n",
        "--namespace",
        help="the evolution run: designs/NS, or $GENESYS_DESIGNS_DIR/NS "
        "(default: the only namespace there)",
    )
    group.add_argument("--repo", metavar="PATH", help="a designs repository by path")


def repo_path(args: argparse.Namespace) -> Path:
    """The repository the options name; the only namespace when neither option is given."""
    from genesys_tui.store.repo import designs_root, namespace_path

    if getattr(args, "repo", None):
        return Path(args.repo)
    if getattr(args, "namespace", None):
        return namespace_path(args.namespace)
    root = designs_root()
    found = sorted(d for d in root.iterdir() if (d / ".git").is_dir()) if root.is_dir() else []
    if len(found) == 1:
        return found[0]
    names = ", ".join(d.name for d in found) or f"none under {root}"
    raise StoreError(f"say which namespace with --namespace NS or --repo PATH (found: {names})")


def open_repo(args: argparse.Namespace, *, writer: bool = False) -> DesignsRepo:
    """Open the named repository, printing the store's notices (index rebuilt, ...) to stderr."""
    from genesys_tui.store.repo import DesignsRepo

    repo = DesignsRepo.open(repo_path(args), writer=writer)
    for notice in repo.notices:
        print(f"genesys: {notice}", file=sys.stderr)
    return repo
