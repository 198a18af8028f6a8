"""The dashboard's process never imports torch (design code and training run in child
processes), and ``genesys --help`` never imports textual."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from genesys_tui.cli import build_parser
from genesys_tui.cli.dashboard import open_dashboard
from genesys_tui.errors import StoreError

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import asyncio, json, sys
from pathlib import Path
from genesys_tui.evolve.settings import EvolveConfig
from tests.tui.conftest import build_snapshot_namespace
from tests.tui.helpers import SIZE, make_app, settled, until

path = build_snapshot_namespace(Path(sys.argv[1]) / "designs" / "run")
assert "torch" not in sys.modules, "building the namespace imported torch"

async def main():
    app = make_app(path, evolve=EvolveConfig(max_designs=1), paused=True)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        await until(pilot, lambda: app.live.loop is not None)
        await pilot.press("enter")  # the inspector reads code, diffs and results
        await until(pilot, lambda: getattr(pilot.app.screen, "details", None) is not None)
    return sorted(m for m in sys.modules if m.split(".")[0] == "torch")

print(json.dumps(asyncio.run(main())))
"""


def test_dashboard_driving_a_loop_never_imports_torch(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        capture_output=True, text=True, cwd=REPO, timeout=300, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_help_does_not_import_textual() -> None:
    code = (
        "import sys, json, contextlib, io\n"
        "from genesys_tui.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main([])\n"
        "print(json.dumps([m for m in sys.modules if m.split('.')[0] == 'textual']))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_dashboard_options_parse_at_the_top_level() -> None:
    args = build_parser().parse_args(["--view", "run1", "--theme", "light", "--paused"])
    assert (args.dashboard_view, args.dashboard_theme, args.dashboard_paused, args.command) == (
        "run1", "light", True, None,
    )  # fmt: skip
    assert build_parser().parse_args(["--view"]).dashboard_view == ""  # the default namespace


def test_view_of_a_missing_namespace_says_how_to_make_one(tmp_path: Path) -> None:
    args = argparse.Namespace(dashboard_view="nowhere", dashboard_designs_dir=tmp_path)
    with pytest.raises(StoreError, match=r"no namespace 'nowhere'.*genesys evolve"):
        open_dashboard(args)
