"""SVG snapshots of the main screen and the inspector on fixed data: a namespace built on a
frozen clock from hand-written designs, fixed resource samples, no timers. Textual renders
differently from version to version: the snapshots hold for textual==8.2.8.

Update them after a deliberate change with ``pytest tests/tui --snapshot-update``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from genesys_tui.tui.screens.inspector import InspectorScreen
from genesys_tui.tui.widgets.leaderboard import Leaderboard
from tests.tui.helpers import SIZE, make_app, settled, until


async def _main_screen(pilot: Pilot[Any]) -> None:
    await settled(pilot)
    panel = pilot.app.screen.query_one("#resources")
    for _ in range(11):  # a minute of fixed samples for the sparklines
        panel.record(pilot.app.sampler.sample())  # type: ignore[attr-defined]
    await pilot.pause()


async def _inspector(pilot: Pilot[Any]) -> None:
    await settled(pilot)
    pilot.app.screen.query_one(Leaderboard).select_design("gpt-cross-4")
    await pilot.press("enter")
    await until(pilot, lambda: getattr(pilot.app.screen, "details", None) is not None)
    assert isinstance(pilot.app.screen, InspectorScreen)
    await pilot.press("l")  # the rungs: loss curve and evaluation table
    await pilot.pause()


def test_main_screen_snapshot(snapshot_ns: Path, snap_compare: Any) -> None:
    assert snap_compare(make_app(snapshot_ns), terminal_size=SIZE, run_before=_main_screen)


def test_inspector_snapshot(snapshot_ns: Path, snap_compare: Any) -> None:
    assert snap_compare(make_app(snapshot_ns), terminal_size=SIZE, run_before=_inspector)


def test_light_theme_snapshot(snapshot_ns: Path, snap_compare: Any) -> None:
    app = make_app(snapshot_ns, theme="light")
    assert snap_compare(app, terminal_size=SIZE, run_before=_main_screen)


def test_narrow_main_screen_snapshot(snapshot_ns: Path, snap_compare: Any) -> None:
    """100x30: the leaderboard drops parents and designer, keeps rungs, bpb, eval, fitness."""
    assert snap_compare(make_app(snapshot_ns), terminal_size=(100, 30), run_before=_main_screen)
