"""The local runner: child processes, timeouts, crashes, progress, idempotent results."""

from __future__ import annotations

import time
from pathlib import Path

from genesys_tui.evolve.runner import Job, LocalRunner

MOD = "tests.evolve.jobs_for_tests"


def test_job_returns_value_and_streams_progress(tmp_path: Path) -> None:
    runner = LocalRunner(tmp_path, {"verify": 1})
    seen: list[dict] = []
    result = runner.submit(Job("add", f"{MOD}:add", {"a": 2, "b": 3}), seen.append).result()
    runner.shutdown()
    assert result.ok and result.value == 5
    assert [e["step"] for e in seen] == [0, 1, 2]


def test_timeout_kills_the_job_and_the_caller_survives(tmp_path: Path) -> None:
    runner = LocalRunner(tmp_path, {"verify": 1})
    t0 = time.monotonic()
    result = runner.submit(Job("slow", f"{MOD}:sleep", {"seconds": 60}, timeout=1.5)).result()
    runner.shutdown()
    assert not result.ok and "timed out" in result.error
    assert time.monotonic() - t0 < 20


def test_crash_and_exception_become_failed_results(tmp_path: Path) -> None:
    runner = LocalRunner(tmp_path, {"verify": 2})
    crashed = runner.submit(Job("crash", f"{MOD}:crash"))
    failed = runner.submit(Job("fail", f"{MOD}:fail"))
    assert not crashed.result().ok and "status 3" in crashed.result().error
    assert not failed.result().ok and "RuntimeError: boom" in failed.result().error
    runner.shutdown()


def test_a_finished_job_is_never_run_twice(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    runner = LocalRunner(tmp_path / "results", {"verify": 1})
    job = Job("once", f"{MOD}:count_runs", {"marker": str(marker)})
    first = runner.submit(job).result()
    runner.shutdown()
    again = LocalRunner(tmp_path / "results", {"verify": 1})  # as after a resume
    second = again.submit(job).result()
    again.shutdown()
    assert first.ok and second.ok and second.cached
    assert marker.read_text() == "x"
