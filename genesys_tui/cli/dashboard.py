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

#: Where the dashboard's options land in the parsed arguments: their own names, so that a
#: subcommand's option of the same name (``stats --namespace``) never overwrites them or is
#: overwritten by them.
PREFIX = "dashboard_"


def add_options(parser: argparse.ArgumentParser) -> None:
    """The dashboard's options, on the top-level parser (they apply when no command is given)."""
    group = parser.add_argument_group("dashboard (when no command is given)")

    def add(flag: str, **kwargs) -> None:
        group.add_argument(flag, dest=PREFIX + flag[2:].replace("-", "_"), **kwargs)

    add(
        "--view",
        nargs="?",
        const="",
        metavar="NAMESPACE",
        help="open an existing namespace read-only (default: --namespace, else 'default')",
    )
    add("--namespace", help="the namespace to run or view (default: 'default')")
    add("--theme", help="dark, light, solarized, or any Textual theme name")
    add(
        "--config",
        type=Path,
        help="settings TOML with [dashboard] and [evolve] tables (default: ./genesys.toml)",
    )
    add(
        "--designs-dir",
        type=Path,
        help="where namespaces live (default: $GENESYS_DESIGNS_DIR or ./designs)",
    )
    add("--designer", help="offline, or an LLM spec such as anthropic:MODEL")
    add(
        "--runner",
        help="where jobs run: local (default), ray (join or start a local Ray instance), "
        "ray:auto or ray:HOST:PORT (join a Ray cluster)",
    )  # fmt: skip
    add("--paused", action="store_true", help="open with evolution paused")
    add(
        "--no-sandbox", action="store_true",
        help="run model-written designs without the bubblewrap sandbox (not recommended)",
    )  # fmt: skip


def given(args: argparse.Namespace) -> list[str]:
    """The dashboard options set on the command line, as flags (``--namespace``)."""
    return [
        "--" + key[len(PREFIX):].replace("_", "-")
        for key, value in vars(args).items()
        if key.startswith(PREFIX) and value not in (None, False)
    ]


def _option(args: argparse.Namespace, name: str):
    return getattr(args, PREFIX + name, None)


def has_terminal() -> bool:
    """Whether there is a terminal to draw on (not a pipe, not a captured test run)."""
    return sys.stdin.isatty() and sys.stdout.isatty() and os.environ.get("TERM") != "dumb"


def open_dashboard(args: argparse.Namespace) -> int:
    """Open the dashboard as ``args`` say; returns the exit status."""
    from genesys_tui.store.repo import designs_root
    from genesys_tui.tui.settings import load_settings

    dashboard, evolve = load_settings(_option(args, "config"))
    if _option(args, "theme"):
        dashboard = dataclasses.replace(dashboard, theme=_option(args, "theme"))
    if _option(args, "paused"):
        dashboard = dataclasses.replace(dashboard, paused=True)
    if _option(args, "designer"):
        evolve = dataclasses.replace(evolve, designer=_option(args, "designer"))
    if _option(args, "runner"):
        evolve = dataclasses.replace(evolve, runner=_option(args, "runner"))
    if _option(args, "no_sandbox"):
        evolve = dataclasses.replace(evolve, sandbox=False)
    namespace = _option(args, "view") or _option(args, "namespace")
    evolve = dataclasses.replace(evolve, namespace=namespace or evolve.namespace)
    root = _option(args, "designs_dir") or designs_root()
    path = Path(root) / evolve.namespace
    view = _option(args, "view") is not None
    if view and not (path / ".git").is_dir():
        from genesys_tui.errors import StoreError

        raise StoreError(
            f"no namespace {evolve.namespace!r} at {path} to view; run `genesys` or "
            "`genesys evolve --namespace NS` first, or pass --designs-dir"
        )

    from genesys_tui.tui.app import GenesysApp

    GenesysApp(path, evolve=None if view else evolve, config=dashboard).run()
    return 0
