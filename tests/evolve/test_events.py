"""Events round-trip through the JSONL log; a torn last line is skipped."""

from __future__ import annotations

from pathlib import Path

from genesys_tui.evolve.events import (
    DesignCommitted,
    EventBus,
    RungFinished,
    TrainingProgress,
    read_events,
)


def test_events_round_trip_through_the_log(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    bus = EventBus(log)
    seen = []
    bus.subscribe(seen.append)
    events = [
        DesignCommitted(design="d1", commit="abc", parents=("gpt",), status="valid"),
        RungFinished(design="d1", rung="xs", ok=True, bpb=1.8, fitness=0.4),
    ]
    for e in events:
        bus.emit(e)
    bus.emit(
        TrainingProgress(
            design="d1", rung="xs", step=1, total_steps=9, loss=3.0, tokens_per_second=100.0
        )
    )
    bus.close()
    assert read_events(log) == events  # progress is streamed, not logged
    assert len(seen) == 3


def test_torn_last_line_is_skipped(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    e = DesignCommitted(design="d1", commit="abc", parents=(), status="valid")
    log.write_text(e.to_json() + "\n" + e.to_json()[:20])
    assert read_events(log) == [e]
