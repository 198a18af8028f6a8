"""When the loop itself fails (not a design): the error and its traceback reach the event log,
one bad result does not end the run, a broken one does, and nothing of it keeps running."""

from __future__ import annotations

from pathlib import Path

import pytest

from genesys_tui.errors import LoopFailed
from genesys_tui.evolve import events as ev
from genesys_tui.evolve.loop import MAX_RECORD_FAILURES, EvolutionLoop
from genesys_tui.evolve.recorder import Recorder
from genesys_tui.evolve.session import open_run
from genesys_tui.evolve.settings import EvolveConfig

RACE = "AST constructor recursion depth mismatch (before=45, after=29)"


def _errors(path: Path) -> list[ev.LoopError]:
    log = path / ".git" / "genesys" / "events.jsonl"
    return [e for e in ev.read_events(log) if isinstance(e, ev.LoopError)]


def test_a_result_that_fails_to_record_is_logged_with_its_traceback_and_the_run_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = Recorder.design
    calls = {"n": 0}

    def flaky(self: Recorder, choice, out):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            raise SystemError(RACE)
        return real(self, choice, out)

    monkeypatch.setattr(Recorder, "design", flaky)
    monkeypatch.setattr(EvolutionLoop, "_submit_check", lambda self, design_id: None)
    config = EvolveConfig(namespace="ns", max_designs=2, verify=False, sync=True)
    run = open_run(config, root=tmp_path)
    try:
        assert run.loop.run() == "finished"
    finally:
        run.close()
    errors = _errors(run.path)
    assert len(errors) == 1
    assert "recording the design result failed: SystemError" in errors[0].message
    assert "Traceback" in errors[0].traceback and RACE in errors[0].traceback
    assert run.loop.population.made == 2  # the run went on and made both designs


def test_a_loop_that_keeps_failing_stops_with_loop_failed_and_logs_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Recorder, choice, out):  # type: ignore[no-untyped-def]
        raise OSError("No space left on device")

    monkeypatch.setattr(Recorder, "design", broken)
    config = EvolveConfig(namespace="ns", max_designs=50, verify=False, sync=True)
    run = open_run(config, root=tmp_path)
    states: list[str] = []
    run.bus.subscribe(lambda e: states.append(e.state) if isinstance(e, ev.LoopState) else None)
    try:
        with pytest.raises(LoopFailed, match="No space left on device"):
            run.loop.run()
    finally:
        run.close()
    errors = _errors(run.path)
    assert len(errors) == MAX_RECORD_FAILURES + 1  # each failure, then the loop's own
    assert errors[-1].message.startswith("the evolution loop failed: OSError")
    assert "Traceback" in errors[-1].traceback
    assert states[-1] == "failed"
    assert not run.loop._futures  # nothing of the failed run is left in flight


def test_an_error_in_scheduling_ends_the_loop_with_its_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(self: EvolutionLoop) -> None:
        raise SystemError(RACE)

    monkeypatch.setattr(EvolutionLoop, "_fill", crash)
    run = open_run(EvolveConfig(namespace="ns", max_designs=2), root=tmp_path)
    try:
        with pytest.raises(LoopFailed, match="recursion depth mismatch"):
            run.loop.run()
    finally:
        run.close()
    (error,) = _errors(run.path)
    assert "in crash" in error.traceback


def test_a_loop_dropped_without_close_leaves_no_scratch_directory(tmp_path: Path) -> None:
    import gc

    run = open_run(EvolveConfig(namespace="ns", max_designs=1), root=tmp_path)
    scratch = run.loop._work
    assert scratch.is_dir()
    run.runner.shutdown(cancel=True)
    run.bus.close()
    run.repo.close()  # type: ignore[attr-defined]
    del run  # the loop is never closed
    gc.collect()
    assert not scratch.exists()


def test_abandoning_a_loop_that_is_finishing_its_jobs_ends_it_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After its budget the loop waits for the jobs in flight (a cpu-s verification: half an
    hour); ``stop(abandon=True)`` (a second Ctrl-C, a SIGTERM) must end that wait too."""
    import threading
    from concurrent.futures import Future

    never: Future[None] = Future()  # a job that would run for as long as anyone waits

    def spent(self: EvolutionLoop) -> str:
        self._futures.setdefault(never, None)  # type: ignore[arg-type]
        return "wall-time budget spent"

    monkeypatch.setattr(EvolutionLoop, "_out_of_budget", spent)
    run = open_run(EvolveConfig(namespace="ns", max_designs=1, verify=False), root=tmp_path)
    reasons: list[str] = []
    runner = threading.Thread(target=lambda: reasons.append(run.loop.run()), daemon=True)
    try:
        runner.start()
        runner.join(timeout=2.0)
        assert runner.is_alive()  # finishing: waiting on the job in flight
        run.loop.stop(abandon=True)
        runner.join(timeout=10.0)
        assert not runner.is_alive() and reasons == ["wall-time budget spent"]
        assert not run.loop._futures
    finally:
        never.set_result(None)  # lets a loop that ignored the stop finish, so the test ends
        runner.join(timeout=10.0)
        run.close()
