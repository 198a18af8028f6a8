"""The dashboard's loop fails: it is resumed, the errors are kept with their tracebacks, no
ghost job stays in the workers view, and past the restart limit `g` starts it again."""

from __future__ import annotations

from pathlib import Path

import pytest

from genesys_tui.evolve import events as ev
from genesys_tui.evolve.loop import EvolutionLoop
from genesys_tui.evolve.settings import EvolveConfig
from tests.tui.helpers import SIZE, make_app, settled, until

pytestmark = pytest.mark.asyncio

RACE = "AST constructor recursion depth mismatch (before=45, after=29)"


async def test_a_failing_loop_is_restarted_then_left_stopped_with_no_ghost_jobs(
    pilot_ns: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fill = EvolutionLoop._fill
    state = {"broken": True}

    def fill(self: EvolutionLoop) -> None:
        # A designer and a check are in flight when the loop dies, as in the reported run.
        self.bus.emit(ev.Dialogue(role="designer", text="swap the norm", session="design-9"))
        self.bus.emit(ev.WorkerStatus(worker="checker", state="checking", job="gpt-x-9"))
        if state["broken"]:
            raise SystemError(RACE)
        real_fill(self)

    monkeypatch.setattr(EvolutionLoop, "_fill", fill)
    evolve = EvolveConfig(max_designs=5, max_rungs=1, first_rung_budget=2, check_timeout=60)
    app = make_app(pilot_ns, evolve=evolve)
    assert app.live is not None
    app.live.max_restarts = 1
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        await until(pilot, lambda: app._loop_done.is_set() and "stopped" in app.screen.sub_title)
        await pilot.pause(0.3)
        assert app.live.restarts and len(app.live.restarts) == 1  # resumed once, then left
        assert app.activity.jobs == {}  # the dead loop's rows ended
        messages = [e.message for e in app.activity.errors]
        assert any(m.startswith("the evolution loop failed: SystemError") for m in messages)
        assert any(m.startswith("evolution restarted (1 of 1") for m in messages)
        assert "Press g to start it again" in messages[-1]
        logged = ev.read_events(pilot_ns / ".git" / "genesys" / "events.jsonl")
        failures = [e for e in logged if isinstance(e, ev.LoopError) and e.traceback]
        assert len(failures) == 2 and RACE in failures[0].traceback

        state["broken"] = False
        await pilot.press("g")  # start again: a clean workers view, then the loop's own jobs
        await until(pilot, lambda: app.live is not None and app.live.loop is not None)
        await until(pilot, lambda: "design:design-9" in app.activity.jobs)
        assert "check:gpt-x-9" in app.activity.jobs
        assert not app._loop_done.is_set()
