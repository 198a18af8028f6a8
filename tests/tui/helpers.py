"""Driving the dashboard in tests: build the app on fixed data, wait for it to settle."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from genesys_tui.evolve.settings import EvolveConfig
from genesys_tui.tui.app import GenesysApp
from genesys_tui.tui.settings import DashboardConfig
from tests.tui.conftest import fixed_sampler

SIZE = (140, 40)


def make_app(path: Path, evolve: EvolveConfig | None = None, **settings: Any) -> GenesysApp:
    """The dashboard on ``path``: read-only unless ``evolve`` is given; no live sampling."""
    config = DashboardConfig(**{"sample_seconds": 0, "refresh_seconds": 0.1, **settings})
    return GenesysApp(path, evolve=evolve, config=config, sampler=fixed_sampler())


async def until(pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Let the app run until ``condition`` holds (AssertionError after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the dashboard did not get there in time")
        await pilot.pause(0.05)


async def settled(pilot: Pilot[Any]) -> None:
    """Wait until the designs are shown and every store read has finished."""
    app = pilot.app

    def done() -> bool:
        busy = [w for w in app.workers if w.is_running and w.group != "evolution"]
        return bool(app.main.loaded) and not busy  # type: ignore[attr-defined]

    await until(pilot, done)
    await pilot.pause()
