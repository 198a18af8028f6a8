"""`genesys study designers`: two loop runs' grown designs side by side at equal hours.

The loop clock and the bootstrap difference are checked against values worked out by hand; the
command runs end to end on two namespaces built here (library seeds, grown variants of GPT with
made-up rung results and an events log)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from genesys_tui.cli import main
from genesys_tui.errors import ConfigError
from genesys_tui.evolve import events as ev
from genesys_tui.results import RungResult
from genesys_tui.study.designers import (
    difference,
    loop_clock,
    loop_hours,
    run_designers_study,
)

LIBRARY = Path(__file__).parents[1] / "library"
T0 = 1_800_000_000.0
H = 3600.0


def test_the_loop_clock_counts_sittings_and_skips_the_gaps_between_them() -> None:
    log = [ev.LoopState("running", ts=T0), ev.LoopState("finished", ts=T0 + 0.5 * H),
           ev.LoopState("running", ts=T0 + 10 * H), ev.Dialogue("designer", "x", ts=T0 + 11 * H)]
    sittings, total = loop_clock(log)
    assert sittings == [(T0, T0 + 0.5 * H), (T0 + 10 * H, T0 + 11 * H)] and total == 1.5
    assert loop_hours(sittings, T0 + 0.25 * H) == 0.25
    assert loop_hours(sittings, T0 + 5 * H) == 0.5  # in the gap: the first sitting only
    assert loop_hours(sittings, T0 + 10.5 * H) == 1.0
    assert loop_clock([ev.Dialogue("designer", "before any run", ts=T0)]) == ([], 0.0)


def test_the_difference_is_b_minus_a_with_an_interval_around_it() -> None:
    d = difference([1.0, 1.0], [3.0, 3.0, 3.0], 200, random.Random(0))
    assert (d.value, d.low, d.high) == (2.0, 2.0, 2.0)  # nothing varies: a point
    d = difference([0.0, 1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 1.0], 2000, random.Random(1))
    assert d.value == 0.5 and d.low is not None and d.high is not None
    assert d.low < 0.5 < d.high and d.low >= -1.0 and d.high <= 1.0
    assert difference([], [1.0], 100, random.Random(0)).value is None


def _run(path: Path, grown: list[tuple[str, float | None, float]], seeds: dict[str, float],
         sitting_h: float) -> dict[str, str]:  # fmt: skip
    """A namespace at ``path``: the gpt and mamba2 seeds with ``seeds`` scores at tiny-0, and
    grown gpt variants, each (outcome, score, loop hours when it ended); one sitting of
    ``sitting_h`` hours. The grown designs' ids by position."""
    from genesys_tui.store import DesignsRepo
    from genesys_tui.store.library import import_library

    gpt = {str(p.relative_to(LIBRARY / "gpt")): p.read_text()
           for p in (LIBRARY / "gpt").rglob("*") if p.is_file()}  # fmt: skip
    log = [ev.LoopState("running", ts=T0)]
    ids = {}
    with DesignsRepo.create(path, seeds=False) as repo:
        import_library(repo, [LIBRARY / "gpt", LIBRARY / "mamba2"])
        by_name = {r.name: r.id for r in repo.records()}
        for name, score in seeds.items():
            repo.attach(by_name[name], "rung:tiny-0",
                        RungResult(ok=True, scores={"score": score}).to_note())  # fmt: skip
        for i, (outcome, score, hours) in enumerate(grown):
            files = {**gpt, "proposal.md": f"variant {i}\n"}
            record = repo.commit_design(files, parents=[by_name["gpt"]], designer="offline",
                                        title=f"variant {i}")  # fmt: skip
            ids[str(i)] = record.id
            if outcome == "finished":
                result = RungResult(ok=True, scores={"score": score})
            else:
                why = "stopped early at 50% of its steps" if outcome == "stopped" else "diverged"
                result = RungResult.failed(why)
            repo.attach(record.id, "rung:tiny-0", result.to_note())
            log.append(ev.RungFinished(record.id, "tiny-0", result.ok, reason=result.reason,
                                       ts=T0 + hours * H))  # fmt: skip
    log.append(ev.LoopState("finished", ts=T0 + sitting_h * H))
    (path / ".git" / "genesys").mkdir(exist_ok=True)
    (path / ".git" / "genesys" / "events.jsonl").write_text(
        "".join(e.to_json() + "\n" for e in log))
    return ids


@pytest.fixture
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, str]]:
    monkeypatch.setenv("GENESYS_DESIGNS_DIR", str(tmp_path))
    seeds = {"gpt": 0.5, "mamba2": 0.7}  # mean 0.6, best 0.7
    a = _run(tmp_path / "a", [("finished", 0.65, 0.1), ("stopped", None, 0.2),
                              ("finished", 0.55, 0.3), ("failed", None, 0.4)], seeds, 1.0)
    b = _run(tmp_path / "b", [("finished", 0.75, 0.1), ("finished", 0.62, 0.2),
                              ("finished", 0.9, 1.5)], seeds, 2.0)  # the last is past A's hour
    return {"a": a, "b": b}


def test_two_runs_side_by_side_at_the_shorter_runs_hours(runs: dict) -> None:
    study = run_designers_study("a", "b", resamples=500)
    assert study.hours == 1.0 and study.hours_run == (1.0, 2.0)
    (row,) = study.rungs
    a, b = row.a, row.b
    assert (a.seeds_mean, a.best_seed) == (pytest.approx(0.6), 0.7)
    assert [o.outcome for o in a.outcomes] == ["finished", "stopped", "finished", "failed"]
    assert a.margins == pytest.approx([0.05, -0.05]) and b.margins == pytest.approx([0.15, 0.02])
    assert b.best is not None and b.best.design == runs["b"]["0"]
    assert b.best.over_best == pytest.approx(0.05)
    # mean margin +0.085 - 0.0; above the seeds' mean 2 of 2 against 1 of 4; above the best
    # seed 1 of 2 against 0 of 4 (stopped and failed designs count as neither)
    assert row.mean_margin.value == pytest.approx(0.085)
    assert row.above_mean.value == pytest.approx(0.75)
    assert row.above_best.value == pytest.approx(0.5)
    # given the hours, B's late design counts too
    (row,) = run_designers_study("a", "b", hours=2.0, resamples=500).rungs
    assert len(row.b.outcomes) == 3 and row.b.best.design == runs["b"]["2"]


def test_the_command_prints_the_table_and_writes_its_json(
    runs: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "s.json"
    assert main(["study", "designers", "a", "b", "--bootstrap", "200", "--out", str(out)]) == 0
    table = capsys.readouterr().out
    assert "| tiny-0 | A: a | 4 | 2 | 1 | 1 |" in table and "| tiny-0 | B - A |" in table
    assert json.loads(out.read_text())["namespaces"] == ["a", "b"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["a", "a"], "two different runs"),
        (["a", "b", "--hours", "0"], "--hours must be more than 0"),
        (["a", "nope"], "unknown namespace 'nope'"),
        (["a", "b", "--rung", "tiny-1"], "no grown designs verified at rung 'tiny-1'"),
        (["a", "b", "--bootstrap", "5"], "--bootstrap must be at least"),
    ],
    ids=["same-run", "no-hours", "unknown-namespace", "no-shared-rung", "few-resamples"],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(
    runs: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    out = tmp_path / "s.json"
    assert main(["study", "designers", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not out.exists()


def test_a_namespace_without_loop_events_is_refused(runs: dict, tmp_path: Path) -> None:
    (tmp_path / "b" / ".git" / "genesys" / "events.jsonl").unlink()
    with pytest.raises(ConfigError, match="no loop events"):
        run_designers_study("a", "b")
