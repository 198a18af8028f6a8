"""The typed results and their codec: the worker boundary and the git note round-trip, and a
note written before results carried a schema still loads."""

from __future__ import annotations

import json

import pytest

from genesys_tui.results import (
    SCHEMA,
    CheckResult,
    NoveltyResult,
    RungResult,
    SeedRuns,
    repeat_runs,
    rung_results,
)
from genesys_tui.store.records import check_result

RUNG = RungResult(
    ok=True,
    scores={"score": 0.51, "bpb": 3.8963, "tokens_per_second": 1416.5},
    seconds=14.2,
    tokens=131_072,
    params=115_072,
    evals={},
    curve=((1, 5.5), (2, 5.1)),
    notes=("tasks skipped: the rung trains 131,072 tokens, under 1,000,000",),
    numerics="torch 2.13.0+cpu, cpu AVX512",
)

#: A rung note exactly as Genesys wrote it before results carried a schema (``tokens`` 0 was
#: what every note then said; the verifier did not report it).
OLD_NOTE = json.loads(
    """{"at": 1764000000.5, "detail": {"curve": [[1, 5.54], [2, 5.2]], "evals": {},
    "notes": ["tasks skipped"], "ok": true}, "params": 115072, "scores": {"bpb": 3.8963,
    "score": 0.5129, "tokens_per_second": 1416.5}, "seconds": 14.2, "tokens": 0}"""
)


def test_a_rung_result_crosses_the_worker_boundary_unchanged() -> None:
    wire = json.loads(json.dumps(RUNG.to_wire()))
    assert RungResult.from_wire(wire) == RUNG


def test_a_rung_result_round_trips_through_its_note_and_the_stores_validation() -> None:
    note = json.loads(json.dumps(RUNG.to_note()))
    assert note["schema"] == SCHEMA and note["tokens"] == 131_072
    check_result("rung:cpu-xs", {**note, "at": 1.0})  # the store accepts what we write
    assert RungResult.from_note(note) == RUNG


def test_a_failed_rung_keeps_its_reason_and_no_scores() -> None:
    failed = RungResult.failed("loss diverged at step 12", seconds=3.0)
    back = RungResult.from_note(json.loads(json.dumps(failed.to_note())))
    assert not back.ok and back.reason == "loss diverged at step 12" and back.scores == {}
    assert back.score is None and back.bpb is None and back.seconds == 3.0


def test_a_note_written_before_the_schema_still_loads() -> None:
    check_result("rung:cpu-xs", OLD_NOTE)
    old = RungResult.from_note(OLD_NOTE)
    assert old.ok and old.score == 0.5129 and old.bpb == 3.8963
    assert old.curve == ((1, 5.54), (2, 5.2)) and old.notes == ("tasks skipped",)
    assert old.numerics == ""  # not recorded then
    assert rung_results({"rung:cpu-xs": OLD_NOTE, "check": {"ok": True}}) == {"cpu-xs": old}


def test_check_and_novelty_round_trip_through_their_notes() -> None:
    check = CheckResult(False, "speed: 3.6x", ({"check": "speed"},), 4.5, "fp")
    back = CheckResult.from_note(json.loads(json.dumps(check.to_note())))
    assert (back.ok, back.summary, back.seconds) == (False, "speed: 3.6x", 4.5)
    assert back.findings == ({"check": "speed"},)
    check_result("check", {**check.to_note(), "at": 1.0})
    novelty = NoveltyResult("s-hash", "f-hash", "gpt-1")
    assert NoveltyResult.from_note(novelty.to_note()) == novelty
    check_result("novelty", {**novelty.to_note(), "at": 1.0})


def test_further_runs_by_training_seed_round_trip_and_a_later_run_replaces_its_seed() -> None:
    runs = SeedRuns().with_run(2, RUNG).with_run(0, RUNG)
    worse = RungResult(ok=True, scores={"score": 0.4, "bpb": 3.9}, seconds=20.0)
    runs = runs.with_run(2, worse)
    assert runs.scores == {0: 0.51, 2: 0.4} and runs.bpb == {0: 3.8963, 2: 3.9}
    # each run's numerics, where it recorded them: seed 2's later run recorded none
    assert runs.numerics == {0: "torch 2.13.0+cpu, cpu AVX512"}
    note = json.loads(json.dumps(runs.to_note()))
    assert list(note["scores"]) == ["0", "2"]  # JSON keys: the training seeds, in order
    check_result("repeats:cpu-s", {**note, "at": 1.0})  # the store accepts what we write
    assert SeedRuns.from_note(note) == runs
    assert repeat_runs({"repeats:cpu-s": note, "rung:cpu-s": RUNG.to_note()}) == {"cpu-s": runs}
    with pytest.raises(ValueError, match="training seed 1"):
        runs.with_run(1, RungResult.failed("diverged"))
