"""The evolution loop end to end: real designer, store, checker, trainer and evaluator, on a
ladder of seconds. Slow by nature (every check and verification is a child process), so a few
runs serve several assertions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from genesys_tui.cli import main
from genesys_tui.evolve.events import DesignCommitted, RungFinished, read_events
from genesys_tui.store.repo import DesignsRepo

LADDER = str(Path(__file__).with_name("tiny_ladder.toml"))
ARGS = ["--ladder", LADDER, "--pairs", "20", "--tasks-min-tokens", "0", "--quiet"]

pytestmark = pytest.mark.slow


def _records(root: Path, ns: str) -> list:
    with DesignsRepo.open(root / ns) as repo:
        return repo.records()


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("designs")
    argv = [
        "evolve",
        "--designs-dir",
        str(root),
        "--namespace",
        "run",
        "--max-designs",
        "3",
        "--max-rungs",
        "1",
        "--sync",
        "--seed",
        "1",
        *ARGS,
    ]
    assert main(argv) == 0
    return root, "run"


def test_run_commits_checks_and_verifies_designs(finished_run: tuple[Path, str]) -> None:
    root, ns = finished_run
    records = _records(root, ns)
    seeds = [r for r in records if r.origin == "seed"]
    grown = [r for r in records if r.origin != "seed"]
    assert {r.name for r in seeds} >= {"gpt"}
    assert len(grown) == 3
    assert all(r.check is not None or r.status in ("rejected", "failed") for r in grown)
    # Baselines first: every seed was verified at the first rung.
    assert all("tiny-0" in r.rungs for r in seeds)
    assert any("tiny-0" in r.rungs for r in grown)
    assert all(r.parents or r.origin == "scratch" for r in grown)
    # A rung result keeps the evaluation and the loss curve of its training run.
    with DesignsRepo.open(root / ns) as repo:
        result = repo.results(seeds[0].id)["rung:tiny-0"]
    assert result["detail"]["evals"] and result["scores"]["bpb"] > 0
    curve = result["detail"]["curve"]
    assert [step for step, _ in curve] == list(range(1, len(curve) + 1)) and len(curve) >= 8


def test_events_log_matches_the_repository(finished_run: tuple[Path, str]) -> None:
    root, ns = finished_run
    events = read_events(root / ns / ".git" / "genesys" / "events.jsonl")
    committed = {e.design for e in events if isinstance(e, DesignCommitted)}
    assert committed == {r.id for r in _records(root, ns) if r.origin != "seed"}
    verified = [e for e in events if isinstance(e, RungFinished) and e.ok]
    assert all(e.bpb is not None and e.bpb > 0 for e in verified)


def test_git_history_is_the_family_tree(finished_run: tuple[Path, str]) -> None:
    root, ns = finished_run
    path = root / ns
    fsck = subprocess.run(
        ["git", "fsck", "--no-progress"], cwd=path, capture_output=True, text=True
    )
    assert fsck.returncode == 0, fsck.stderr
    graph = subprocess.run(
        ["git", "log", "--graph", "--all", "--oneline"],
        cwd=path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for r in _records(root, ns):
        assert r.commit[:7] in graph


def test_same_seed_same_designs(tmp_path: Path) -> None:
    titles = []
    for run in ("a", "b"):
        argv = [
            "evolve",
            "--designs-dir",
            str(tmp_path),
            "--namespace",
            run,
            "--max-designs",
            "3",
            "--no-verify",
            "--sync",
            "--seed",
            "7",
            *ARGS,
        ]
        assert main(argv) == 0
        titles.append(
            [
                (r.title, tuple(p.split("-")[0] for p in r.parents))
                for r in _records(tmp_path, run)
                if r.origin != "seed"
            ]
        )
    assert titles[0] == titles[1]
    assert len(titles[0]) == 3


def test_resume_refuses_a_missing_namespace_and_start_refuses_an_existing_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["evolve", "--designs-dir", str(tmp_path), "--namespace", "x", "--resume", *ARGS]) == 2
    )
    assert "nothing to resume" in capsys.readouterr().err


def test_killed_run_resumes_without_losing_designs(tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "genesys_tui",
        "evolve",
        "--designs-dir",
        str(tmp_path),
        "--namespace",
        "k",
        "--max-designs",
        "4",
        "--max-rungs",
        "1",
        "--seed",
        "3",
        *ARGS,
    ]
    log = tmp_path / "k" / ".git" / "genesys" / "events.jsonl"
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if log.exists() and sum(isinstance(e, DesignCommitted) for e in read_events(log)) >= 1:
            break
        if proc.poll() is not None:
            pytest.fail(f"evolve exited early: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {r.id: r.commit for r in _records(tmp_path, "k")}
    finished_before = {
        (e.design, e.rung) for e in read_events(log) if isinstance(e, RungFinished) and e.ok
    }
    resumed = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    records = _records(tmp_path, "k")
    after = {r.id: r.commit for r in records}
    assert before.items() <= after.items()
    assert sum(1 for r in records if r.origin != "seed") >= 4
    # Nothing verified before the kill is verified again: each (design, rung) finishes once.
    finished = [
        (e.design, e.rung) for e in read_events(log) if isinstance(e, RungFinished) and e.ok
    ]
    assert len(finished) == len(set(finished))
    assert finished_before <= set(finished)
    fsck = subprocess.run(
        ["git", "fsck", "--no-progress"], cwd=tmp_path / "k", capture_output=True, text=True
    )
    assert fsck.returncode == 0, fsck.stderr


def test_a_rung_note_holds_the_tokens_the_trainer_trained(finished_run: tuple[Path, str]) -> None:
    from genesys_tui.ladder import load_ladder
    from genesys_tui.results import RungResult

    root, ns = finished_run
    rung = load_ladder(LADDER).rung("tiny-0")
    with DesignsRepo.open(root / ns) as repo:
        seed = next(r for r in repo.records() if r.origin == "seed")
        note = repo.results(seed.id)["rung:tiny-0"]
    result = RungResult.from_note(note)
    assert note["schema"] == 2 and result.tokens == rung.steps * rung.tokens_per_step > 0
    # Throughput times the verification's seconds covers at least the trained tokens (the
    # seconds include the evaluation, so it is more).
    assert result.scores["tokens_per_second"] * result.seconds >= result.tokens


def test_the_designer_waits_for_results_past_its_backlog(tmp_path: Path) -> None:
    """With --backlog 1 no design is proposed while another grown design is being checked or
    waits for its first verification: each one is designed from every result before it."""
    from genesys_tui.evolve.events import CheckFinished, DesignProposed, RungStarted

    argv = ["evolve", "--designs-dir", str(tmp_path), "--namespace", "lag", "--max-designs",
            "3", "--max-rungs", "1", "--seed", "2", "--backlog", "1", *ARGS]  # fmt: skip
    assert main(argv) == 0
    events = read_events(tmp_path / "lag" / ".git" / "genesys" / "events.jsonl")
    seeds = {r.id for r in _records(tmp_path, "lag") if r.origin == "seed"}
    ahead: set[str] = set()  # grown designs committed, not yet started at the first rung
    proposals = 0
    for e in events:
        if isinstance(e, DesignProposed):
            assert not ahead, f"proposed while {sorted(ahead)} waited"
            proposals += 1
        elif isinstance(e, DesignCommitted) and e.design not in seeds and e.status == "proposed":
            ahead.add(e.design)
        elif (
            isinstance(e, (DesignCommitted, RungStarted))
            or (isinstance(e, CheckFinished) and not e.ok)
        ):  # a duplicate is never checked, a rejected design never verified
            ahead.discard(e.design)
    assert proposals == 3
