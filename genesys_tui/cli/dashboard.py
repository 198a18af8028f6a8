"""``genesys`` with no command: the Textual dashboard.

``genesys`` opens the dashboard on the default namespace and runs the evolution loop in it (the
offline designer unless the settings or ``--designer`` name an LLM); ``genesys --view [NS]``
opens an existing namespace read-only. Textual is imported only here, when the dashboard
opens, so ``genesys --help`` stays fast.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path


def add_options(parser: argparse.ArgumentParser) -> None:
    """The dashboard's options, on the top-level parser (they apply when no command is given)."""
    group = parser.add_argument_group("dashboard (when no command is given)")
    group.add_argument(
        "--view",
        nargs="?",
        const="",
        metavar="NAMESPACE",
        help="open an existing namespace read-only (default: --namespace, else 'default')",
    )
    group.add_argument("--namespace", help="the namespace to run or view (default: 'default')")
    group.add_argument("--theme", help="dark, light, solarized, or any Textual theme name")
    group.add_argument(
        "--config",
        type=Path,
        help="settings TOML with [dashboard] and [evolve] tables (default: ./genesys.toml)",
    )
    group.add_argument(
        "--designs-dir",
        type=Path,
        help="where namespaces live (default: $GENESYS_DESIGNS_DIR or ./designs)",
    )
    group.add_argument("--designer", help="offline, or an LLM spec such as anthropic:MODEL")
    group.add_argument(
        "--runner",
        help="where jobs run: local (default), ray (join or start a local Ray instance), "
        "ray:auto or ray:HOST:PORT (join a Ray cluster)",
    )  # fmt: skip
    group.add_argument("--paused", action="store_true", help="open with evolution paused")
    group.add_argument(
        "--no-sandbox", action="store_true",
        help="run model-written designs without the bubblewrap sandbox (not recommended)",
    )  # fmt: skip


def has_terminal() -> bool:
    """Whether there is a terminal to draw on (not a pipe, not a captured test run)."""
    return sys.stdin.isatty() and sys.stdout.isatty() and os.environ.get("TERM") != "dumb"


def open_dashboard(args: argparse.Namespace) -> int:
    """Open the dashboard as ``args`` say; returns the exit status."""
    from genesys_tui.store.repo import designs_root
    from genesys_tui.tui.settings import load_settings

    dashboard, evolve = load_settings(getattr(args, "config", None))
    if getattr(args, "theme", None):
        dashboard = dataclasses.replace(dashboard, theme=args.theme)
    if getattr(args, "paused", False):
        dashboard = dataclasses.replace(dashboard, paused=True)
    if getattr(args, "designer", None):
        evolve = dataclasses.replace(evolve, designer=args.designer)
    if getattr(args, "runner", None):
        evolve = dataclasses.replace(evolve, runner=args.runner)
    if getattr(args, "no_sandbox", False):
        evolve = dataclasses.replace(evolve, sandbox=False)
    namespace = getattr(args, "view", None) or getattr(args, "namespace", None)
    evolve = dataclasses.replace(evolve, namespace=namespace or evolve.namespace)
    root = getattr(args, "designs_dir", None) or designs_root()
    path = Path(root) / evolve.namespace
    view = getattr(args, "view", None) is not None
    if view and not (path / ".git").is_dir():
        from genesys_tui.errors import StoreError

        raise StoreError(
            f"no namespace {evolve.namespace!r} at {path} to view; run `genesys` or "
            "`genesys evolve --namespace NS` first, or pass --designs-dir"
        )

    from genesys_tui.tui.app import GenesysApp

    GenesysApp(path, evolve=None if view else evolve, config=dashboard).run()
    return 0
