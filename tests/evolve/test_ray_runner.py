"""The Ray runner against a real local Ray instance (issue 15): jobs run as Ray tasks, stream
their progress back, time out, survive a killed worker by retrying, fail cleanly when retries
run out, and an evolution run on Ray commits, checks and verifies designs with the same bits
per byte as the local runner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from genesys_tui.cli import main
from genesys_tui.evolve import events as ev
from genesys_tui.evolve.runner import PLACED, Job, LocalRunner, read_result
from genesys_tui.results import RungResult
from genesys_tui.store.repo import DesignsRepo

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[ray]')")

from genesys_tui.evolve.ray_runner import RayRunner  # noqa: E402

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
LADDER = str(Path(__file__).with_name("tiny_ladder.toml"))
JOBS = "tests.evolve.jobs_for_tests"


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    """One local Ray instance for the module (2 CPUs); every runner here joins it."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture
def runner(cluster: None, tmp_path: Path) -> Iterator[RayRunner]:
    r = RayRunner("", tmp_path / "jobs", {"design": 1, "verify": 1})
    try:
        yield r
    finally:
        r.shutdown(cancel=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


def _verify_job(job_id: str, rung: str = "tiny-0", seed: int = 0) -> Job:
    kwargs = {"design_dir": str(ROOT / "library" / "gpt"), "rung": rung, "ladder": LADDER,
              "seed": seed, "pairs": 20, "tasks_min_tokens": 0}  # fmt: skip
    return Job(job_id, "genesys_tui.evolve.jobs:verify_host", kwargs, timeout=600, hosted=True)


# ---------------------------------------------------------------------- bad input


def _genesys(*argv: str, prelude: str = "") -> subprocess.CompletedProcess[str]:
    code = f"{prelude}\nimport sys\nfrom genesys_tui.cli import main\n"
    code += f"sys.exit(main({list(argv)!r}))"
    env = {**os.environ, "RAY_ADDRESS": ""}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env=env, cwd=ROOT)  # fmt: skip


@pytest.mark.parametrize(
    ("runner_spec", "prelude", "message"),
    [
        ("ray:127.0.0.1:1", "", "no Ray cluster reachable at 127.0.0.1:1"),
        ("ray:nowhere", "", "'nowhere' is not HOST:PORT"),
        ("ray", "import sys; sys.modules['ray'] = None",
         "the ray runner needs Ray, which is not installed: pip install 'ray>=2.9'"),
    ],
    ids=["unreachable", "not-an-address", "no-ray-package"],
)  # fmt: skip
def test_bad_cluster_or_missing_ray_is_one_line_exit_2(
    tmp_path: Path, runner_spec: str, prelude: str, message: str
) -> None:
    out = _genesys("evolve", "--designs-dir", str(tmp_path), "--namespace", "ns",
                   "--runner", runner_spec, prelude=prelude)  # fmt: skip
    err = out.stderr.strip()
    assert out.returncode == 2 and message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "ns").exists()


# ---------------------------------------------------------------------- jobs


def test_a_job_streams_progress_and_its_result_file_makes_it_idempotent(
    runner: RayRunner, tmp_path: Path
) -> None:
    events: list[dict[str, Any]] = []
    result = runner.submit(Job("add-1", f"{JOBS}:add", {"a": 2, "b": 3}, pool="design"),
                           events.append).result(timeout=120)  # fmt: skip
    assert result.ok and result.value == 5 and not result.cached
    assert PLACED in events[0] and [e["step"] for e in events[1:]] == [0, 1, 2]
    assert read_result(runner.result_path("add-1"), "add-1") is not None
    marker = tmp_path / "runs"
    runs = Job("count-1", f"{JOBS}:count_runs", {"marker": str(marker)}, pool="design")
    assert runner.submit(runs).result(timeout=120).ok
    again = runner.submit(runs).result(timeout=120)  # the same job id: not run again
    assert again.cached and marker.read_text() == "x"
    assert [n.cpus for n in runner.nodes() if n.alive] == [2.0]


def test_a_job_that_raises_is_a_failed_result_not_a_retry(runner: RayRunner) -> None:
    result = runner.submit(Job("fail-1", f"{JOBS}:fail", pool="design")).result(timeout=120)
    assert not result.ok and result.error == "RuntimeError: boom"


def test_a_job_past_its_timeout_is_cancelled_and_recorded(runner: RayRunner) -> None:
    events: list[dict[str, Any]] = []
    job = Job("sleep-1", f"{JOBS}:sleep", {"seconds": 120}, pool="design", timeout=2)
    result = runner.submit(job, events.append).result(timeout=120)
    assert not result.ok and result.error.startswith("timed out after 2 s")
    assert 2 <= result.seconds < 30
    recorded = read_result(runner.result_path("sleep-1"), "sleep-1")
    assert recorded is not None and not recorded.ok and "timed out" in recorded.error
    pid = events[0]["pid"]
    for _ in range(100):  # force-cancelling kills the worker process
        if not _alive(pid):
            break
        threading.Event().wait(0.1)
    assert not _alive(pid)


# ---------------------------------------------------------------------- verification


@pytest.fixture(scope="module")
def local_bpb(tmp_path_factory: pytest.TempPathFactory) -> float:
    """The seed's bits per byte from the local runner (the reference)."""
    local = LocalRunner(tmp_path_factory.mktemp("local"), {"design": 1, "verify": 1})
    try:
        result = local.submit(_verify_job("verify-gpt-local")).result(timeout=600)
    finally:
        local.shutdown()
    assert result.ok, result.error
    rung = RungResult.from_wire(result.value)
    assert rung.ok, rung.reason
    return float(rung.bpb)


def test_a_verification_on_ray_equals_the_local_runners_bit_for_bit(
    runner: RayRunner, local_bpb: float
) -> None:
    events: list[dict[str, Any]] = []
    result = runner.submit(_verify_job("verify-gpt-ray"), events.append).result(timeout=600)
    assert result.ok, result.error
    rung = RungResult.from_wire(result.value)
    assert rung.ok and rung.bpb == local_bpb
    assert any("graph scored" in note for note in rung.notes)  # audited on the node
    assert any("loss" in e for e in events)  # training progress came back


def _kill_worker_once(events: list[dict[str, Any]]) -> Any:
    """A progress callback that SIGKILLs the job's Ray worker at its first training step."""
    killed: list[int] = []

    def on_progress(event: dict[str, Any]) -> None:
        events.append(event)
        if "loss" in event and not killed:
            pid = next(e["pid"] for e in events if PLACED in e)
            killed.append(pid)
            os.kill(pid, signal.SIGKILL)

    on_progress.killed = killed  # type: ignore[attr-defined]
    return on_progress


def test_a_killed_worker_is_retried_and_gives_the_same_result(
    runner: RayRunner, local_bpb: float
) -> None:
    events: list[dict[str, Any]] = []
    on_progress = _kill_worker_once(events)
    result = runner.submit(_verify_job("verify-gpt-killed"), on_progress).result(timeout=600)
    assert on_progress.killed, "the job never reported a training step"
    assert not _alive(on_progress.killed[0])
    assert result.ok, result.error
    rung = RungResult.from_wire(result.value)
    assert rung.ok and rung.bpb == local_bpb  # the rerun trained the same model


def test_a_worker_killed_with_no_retries_left_is_a_recorded_failure(
    cluster: None, tmp_path: Path
) -> None:
    runner = RayRunner("", tmp_path / "jobs", {"design": 1, "verify": 1}, retries=0)
    try:
        events: list[dict[str, Any]] = []
        on_progress = _kill_worker_once(events)
        result = runner.submit(_verify_job("verify-gpt-dies"), on_progress).result(timeout=600)
    finally:
        runner.shutdown(cancel=True)
    assert on_progress.killed and not result.ok
    assert "the Ray worker running it died" in result.error
    recorded = read_result(runner.result_path("verify-gpt-dies"), "verify-gpt-dies")
    assert recorded is not None and recorded.error == result.error


# ---------------------------------------------------------------------- the loop


def test_an_evolution_run_on_ray_commits_checks_and_verifies(
    cluster: None, tmp_path: Path, local_bpb: float, capsys: pytest.CaptureFixture[str]
) -> None:
    # The ladder as a relative path: the job carries the file's text to whatever node it lands
    # on, whose working directory is not this one.
    ladder = os.path.relpath(LADDER)
    argv = ["evolve", "--designs-dir", str(tmp_path), "--namespace", "run", "--runner", "ray",
            "--max-designs", "2", "--max-rungs", "1", "--sync", "--seed", "0", "--ladder", ladder,
            "--pairs", "20", "--tasks-min-tokens", "0", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    assert "runner ray: 1 node(s): " in capsys.readouterr().out
    with DesignsRepo.open(tmp_path / "run") as repo:
        records = repo.records()
        gpt = next(r for r in records if r.origin == "seed" and r.name == "gpt")
        result = repo.results(gpt.id)["rung:tiny-0"]
    grown = [r for r in records if r.origin != "seed"]
    assert len(grown) == 2 and any(r.check is not None for r in grown)
    assert all(r.check is not None or r.reason.startswith("check: duplicate") for r in grown)
    assert all("tiny-0" in r.rungs for r in grown if r.status == "valid")
    assert result["scores"]["bpb"] == pytest.approx(local_bpb, rel=1e-9)  # seed 0, as locally
    events = ev.read_events(tmp_path / "run" / ".git" / "genesys" / "events.jsonl")
    cluster_events = [e for e in events if isinstance(e, ev.ClusterStatus)]
    assert cluster_events and cluster_events[0].runner == "ray"
    placed = [e for e in events if isinstance(e, ev.JobPlaced)]
    assert {e.rung for e in placed} >= {"", "tiny-0"}  # checks and verifications both on Ray


def test_a_coordinator_killed_with_sigkill_resumes_and_repeats_no_finished_job(
    cluster: None, tmp_path: Path
) -> None:
    argv = ["evolve", "--designs-dir", str(tmp_path), "--namespace", "k", "--runner", "ray",
            "--max-designs", "2", "--max-rungs", "1", "--sync", "--seed", "0", "--ladder", LADDER,
            "--pairs", "20", "--tasks-min-tokens", "0", "--quiet"]  # fmt: skip
    log = tmp_path / "k" / ".git" / "genesys" / "events.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "genesys_tui", *argv], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        for _ in range(600):
            if log.exists() and '"rung_finished"' in log.read_text(encoding="utf-8"):
                break
            threading.Event().wait(0.5)
        else:
            pytest.fail("no verification finished within 300 s")
    finally:
        proc.kill()  # SIGKILL, the coordinator alone
        proc.wait()
    jobs = tmp_path / "k" / ".git" / "genesys" / "jobs"
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in jobs.glob("*.json")}
    assert any(name.startswith("verify-") for name in before)
    assert main([*argv, "--resume"]) == 0
    after = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in jobs.glob("*.json")}
    assert {name: after[name] for name in before} == before  # no finished job ran again
    finished = [(e.design, e.rung) for e in ev.read_events(log)
                if isinstance(e, ev.RungFinished) and e.ok]  # fmt: skip
    assert finished and len(finished) == len(set(finished))
