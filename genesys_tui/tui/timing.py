"""Timing the dashboard with Textual's Pilot, for ``genesys_tui.bench.dashboard`` (which builds
the namespace and prints the figures; this half lives here because only ``tui/`` imports
textual)."""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path
from typing import Any

from textual import events

from genesys_tui.tui.app import GenesysApp
from genesys_tui.tui.sampler import FixedSampler, ResourceSample
from genesys_tui.tui.settings import DashboardConfig
from genesys_tui.tui.widgets.leaderboard import Leaderboard


async def drive(path: Path, presses: int) -> dict[str, Any]:
    """Open the dashboard on ``path`` headless and time it (see ``genesys_tui.bench.dashboard``);
    figures in seconds (``*_s``) and milliseconds (``*_ms``)."""
    wall0, cpu0 = time.perf_counter(), time.process_time()
    sampler = FixedSampler([ResourceSample(10.0, 2**30, 8 * 2**30, no_gpu="no GPU (bench)")])
    app = GenesysApp(path, config=DashboardConfig(sample_seconds=0), sampler=sampler)
    out: dict[str, Any] = {}
    async with app.run_test(size=(160, 48)) as pilot:
        while not (app.main.loaded and app.main.query_one(Leaderboard).row_count):
            await asyncio.sleep(0.005)
        await pilot.pause()  # the first paint with the leaderboard filled
        out["open_s"] = time.perf_counter() - wall0
        out["open_cpu_s"] = time.process_time() - cpu0
        board = app.main.query_one(Leaderboard)
        out["rows"] = board.row_count
        board.focus()
        await pilot.pause()

        async def press(key: str) -> tuple[float, float]:
            w, c = time.perf_counter(), time.process_time()
            await pilot.press(key)
            await pilot.pause()
            return time.perf_counter() - w, time.process_time() - c

        async def handle(key: str) -> float:
            # The key event queued as a terminal would deliver it, every widget done with it,
            # and the screen repainted: the round trip without the Pilot's idle waits.
            w, target = time.perf_counter(), board.cursor + 1
            event = events.Key(key, None)
            event.set_sender(app)
            app._driver.send_message(event)  # type: ignore[union-attr]
            while board.cursor != target:  # the key reached the leaderboard
                await asyncio.sleep(0)
            await pilot._wait_for_screen()
            app.screen._on_timer_update()
            return time.perf_counter() - w

        downs = [await press("down") for _ in range(presses)]
        handled = sorted([await handle("down") for _ in range(presses)])
        if board.cursor != 2 * presses:
            raise RuntimeError(f"the cursor is on row {board.cursor}, expected {2 * presses}")
        out["handled_ms"] = 1000 * statistics.median(handled)
        out["handled_p95_ms"] = 1000 * handled[int(0.95 * (len(handled) - 1))]
        walls = sorted(w for w, _ in downs)
        out["down_ms"] = 1000 * statistics.median(walls)
        out["down_p95_ms"] = 1000 * walls[int(0.95 * (len(walls) - 1))]
        out["down_cpu_ms"] = 1000 * statistics.median(c for _, c in downs)
        out["end_ms"] = 1000 * (await press("end"))[0]
        out["sort_ms"] = 1000 * (await press("s"))[0]
    return out
