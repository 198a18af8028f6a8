"""A dashboard that drives a run without the wall (--no-sandbox) says so in red for the whole
run; one behind the wall shows no badge."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static

from genesys_tui import wall
from genesys_tui.evolve.settings import EvolveConfig
from tests.tui.helpers import SIZE, make_app, settled, until

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize("sandbox", [False, True], ids=["no-sandbox", "sandbox"])
async def test_the_unsandboxed_badge_shows_exactly_when_the_wall_is_off(
    pilot_ns: Path, sandbox: bool
) -> None:
    if sandbox and wall.probe() is not None:
        pytest.skip(f"no bubblewrap here: {wall.probe()}")
    evolve = EvolveConfig(max_designs=1, max_rungs=1, verify=False, sandbox=sandbox)
    app = make_app(pilot_ns, evolve=evolve)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settled(pilot)
            badge = app.main.query_one("#unsandboxed", Static)
            await until(pilot, lambda: app._loop_done.is_set(), timeout=120)
            await until(pilot, lambda: badge.display is (not sandbox))
            if not sandbox:
                assert "UNSANDBOXED" in str(badge.render()).upper()
                assert badge.styles.background.rgb[0] > 150  # red
    finally:
        wall.configure(sandbox=True)
        wall.close_spares()
