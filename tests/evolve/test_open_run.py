"""Opening a run: nothing is written until every setting has been accepted, and the loop's
scratch directory goes on every exit path."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from genesys_tui.cli import main
from genesys_tui.evolve.session import open_run
from genesys_tui.evolve.settings import EvolveConfig


@pytest.fixture
def scratch_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point tempfile at a folder of its own, so that what a run leaves behind can be seen."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    return tmp


def test_a_designer_without_a_key_writes_nothing_and_the_same_command_then_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    designs = tmp_path / "designs"
    argv = ["evolve", "--designs-dir", str(designs), "--namespace", "claude-run"]
    assert main([*argv, "--designer", "anthropic:claude-sonnet-4-6"]) == 2
    assert "ANTHROPIC_API_KEY" in capsys.readouterr().err
    assert not (designs / "claude-run").exists()
    # the namespace is still free: a corrected command is not told it "already exists"
    assert main([*argv, "--ladder", "no-such-ladder"]) == 2
    assert "already exists" not in capsys.readouterr().err
    assert not (designs / "claude-run").exists()


def test_a_bad_ladder_is_refused_before_the_namespace_is_created(tmp_path: Path) -> None:
    config = EvolveConfig(namespace="x", ladder=str(tmp_path / "missing.toml"))
    with pytest.raises(Exception, match=r"missing\.toml"):
        open_run(config, root=tmp_path)
    assert not (tmp_path / "x").exists()


def test_closing_a_run_removes_its_scratch_directory_even_after_an_error(
    tmp_path: Path, scratch_tmp: Path
) -> None:
    run = open_run(EvolveConfig(namespace="x", verify=False), root=tmp_path)
    work = run.loop._work
    assert work.parent == scratch_tmp and work.is_dir()
    with pytest.raises(KeyboardInterrupt):
        try:
            raise KeyboardInterrupt  # Ctrl-C in the middle of a run
        finally:
            run.close()
    assert not work.exists()


@pytest.mark.slow
def test_evolve_without_verification_lists_its_designs_and_leaves_no_temporary_directory(
    tmp_path: Path, scratch_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["evolve", "--designs-dir", str(tmp_path), "--namespace", "n", "--max-designs", "1"]
    assert main([*argv, "--no-verify", "--sync", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "verification was off" in out
    board = out[out.index("design ") :].splitlines()
    assert len(board) >= 2 and ("not verified" in board[1] or "rejected" in board[1])
    # (multiprocessing's own pymp-* folder goes when this process exits)
    assert [p.name for p in scratch_tmp.iterdir() if p.name.startswith("genesys-")] == []


def test_a_sigterm_inside_stop_on_sigterm_abandons_the_loops_jobs_and_the_handler_goes_after(
) -> None:  # fmt: skip
    import os
    import signal

    from genesys_tui.evolve.session import Run

    class Loop:
        def __init__(self) -> None:
            self.stops: list[bool] = []

        def stop(self, abandon: bool = False) -> None:
            self.stops.append(abandon)

    loop = Loop()
    run = Run(repo=None, loop=loop, runner=None, bus=None, path=Path("."))  # type: ignore[arg-type]
    before = signal.getsignal(signal.SIGTERM)
    with run.stop_on_sigterm():
        assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, before)
        os.kill(os.getpid(), signal.SIGTERM)  # delivered to this (the main) thread at once
        assert run.terminated and loop.stops == [True]
    assert signal.getsignal(signal.SIGTERM) is before
