"""evolve.halving: the coordinator stops a verification whose training loss at a fraction of
its steps is above the median of the rung's finished designs there; the design fails the rung
with that reason. The rule, its threshold, and a real walled verification it stops."""

from __future__ import annotations

from pathlib import Path

import pytest

from genesys_tui import wall
from genesys_tui.errors import ConfigError
from genesys_tui.evolve.halving import HALVING_MIN, EarlyStop, halving_threshold
from genesys_tui.evolve.settings import EvolveConfig
from genesys_tui.results import RungResult

LADDER = str(Path(__file__).parent / "tiny_ladder.toml")
LIBRARY = Path(__file__).resolve().parents[2] / "library"


def _event(step: int, loss: float, total: int = 100) -> dict:
    return {"step": step, "total_steps": total, "loss": loss}


def test_the_rule_decides_once_at_the_fraction_from_the_window_before_it() -> None:
    stop = EarlyStop(0.5, threshold=3.0)
    assert not any(stop.losing(_event(s, 9.0)) for s in range(10, 41, 10))  # before the stop
    assert not stop.losing({"step": "x"}) and not stop.losing(_event(44, float("nan")))
    stop.losing(_event(46, 3.5))
    assert stop.losing(_event(50, 3.3))  # mean of steps 45..50: 3.4 > 3.0
    assert "3.4000" in stop.reason and "3.0000" in stop.reason and "50%" in stop.reason
    assert not stop.losing(_event(60, 99.0))  # decided once

    winner = EarlyStop(0.5, threshold=3.0)
    assert not winner.losing(_event(50, 2.9)) and not winner.losing(_event(90, 50.0))
    assert winner.reason == ""


def test_the_threshold_is_the_median_of_enough_finished_curves() -> None:
    curves = [[(s, 10.0 + i) for s in range(0, 101, 5)] for i in range(HALVING_MIN)]
    assert halving_threshold(curves, 0.5) == pytest.approx(10.0 + (HALVING_MIN - 1) / 2)
    assert halving_threshold(curves[:-1], 0.5) is None  # too few to judge by
    with pytest.raises(ConfigError, match="halving"):
        EvolveConfig(halving=1.0)


@pytest.mark.slow
def test_a_walled_verification_above_the_threshold_is_stopped_and_fails_the_rung() -> None:
    from genesys_tui.evolve.jobs import verify_host

    wall.configure(sandbox=wall.probe() is None)
    try:
        kw = {"ladder": LADDER, "tasks_min_tokens": 10**9, "timeout": 600}
        events: list[dict] = []
        stopped = RungResult.from_wire(verify_host(
            str(LIBRARY / "gpt"), "tiny-0", stop_above=[0.5, -1.0], progress=events.append, **kw
        ))  # fmt: skip
        assert not stopped.ok and stopped.reason.startswith("stopped early at 50% of its steps")
        assert events and all(e["step"] < e["total_steps"] for e in events)  # never finished
        kept = RungResult.from_wire(
            verify_host(str(LIBRARY / "gpt"), "tiny-0", stop_above=[0.5, 1e9], **kw)
        )
        assert kept.ok, kept.reason
    finally:
        wall.configure(sandbox=True)
        wall.close_spares()


@pytest.mark.slow
def test_a_ladder_file_given_as_a_relative_path_reaches_the_cell(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The cell's working directory is not the user's: verify_host resolves the path (every
    verification of a run started with ``--ladder ladders/my.toml`` used to fail)."""
    from genesys_tui.evolve.jobs import verify_host

    monkeypatch.chdir(Path(LADDER).parent)
    wall.configure(sandbox=wall.probe() is None)
    try:
        result = RungResult.from_wire(verify_host(
            str(LIBRARY / "gpt"), "tiny-0", ladder=Path(LADDER).name, tasks_min_tokens=10**9,
            timeout=600,
        ))  # fmt: skip
        assert result.ok, result.reason
    finally:
        wall.configure(sandbox=True)
        wall.close_spares()
