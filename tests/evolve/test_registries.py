"""Runners, designers and evaluation tasks are found through registries: an unknown name is one
line listing the known ones, exit 2, and nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from genesys_tui.cli import main
from genesys_tui.evolve.designers import DESIGNERS, designer_factory, known_designers
from genesys_tui.evolve.runner import LocalRunner
from genesys_tui.evolve.runners import RUNNERS, make_runner
from genesys_tui.verify.evals.tasks import TASKS, task_writer


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--runner", "slurm", "unknown runner 'slurm'; known: local, ray"),
        ("--runner", "local:x", "the local runner takes no argument"),
        ("--designer", "mutator",
         "'mutator'; known: offline, learning, learning:NS[,NS...], anthropic:MODEL"),
        ("--designer", "gemini:pro", "unknown designer 'gemini:pro'; known: offline, learning"),
        ("--designer", "offline:ns", "unknown designer 'offline:ns'; known: offline"),
        ("--designer", "learning:gone", "learning:gone: no namespace 'gone' at"),
        ("--designer", "learning:,", "name the earlier runs, learning:NS[,NS...]"),
    ],
    ids=["unknown-runner", "runner-argument", "unknown-designer", "unknown-provider",
         "offline-argument", "unknown-prior-run", "no-prior-run"],
)
def test_an_unknown_name_is_one_line_exit_2_and_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str, message: str
) -> None:
    code = main(["evolve", "--designs-dir", str(tmp_path), "--namespace", "ns", flag, value])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "ns").exists()


def test_the_registries_resolve_what_they_list(tmp_path: Path) -> None:
    assert "openai-compatible:URL#MODEL" in known_designers()
    assert designer_factory("offline") is DESIGNERS["offline"]
    runner = make_runner("local", tmp_path, {"design": 1, "verify": 1})
    try:
        assert isinstance(runner, LocalRunner) and set(RUNNERS) == {"local", "ray"}
    finally:
        runner.shutdown()
    assert task_writer("genblimp") is TASKS["genblimp"]
    assert task_writer("genblimp_a_an") is TASKS["genblimp"]
    assert task_writer("heldout_lastword_x") is None  # not a group: a hub task of that name
    assert task_writer("blimp") is None  # lm-eval's own hub task


def test_a_learning_designer_with_an_earlier_run_drives_the_loop(tmp_path: Path) -> None:
    base = ["evolve", "--designs-dir", str(tmp_path), "--max-designs", "1", "--no-verify",
            "--sync", "--no-sandbox"]  # fmt: skip
    from genesys_tui.store import DesignsRepo

    DesignsRepo.create(tmp_path / "earlier").close()  # the library seeds, nothing verified
    assert main([*base, "--namespace", "now", "--designer", "learning:earlier"]) == 0

    with DesignsRepo.open(tmp_path / "now") as repo:
        grown = [r for r in repo.records() if r.origin != "seed"]
    assert len(grown) == 1 and grown[0].designer == "offline-learning"
