"""`genesys study noise`: the spread of one design's results over training seeds."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from genesys_tui.cli import main
from genesys_tui.errors import ConfigError
from genesys_tui.study.noise import (
    SeedRun,
    format_study,
    load_study,
    pooled_std,
    spread,
    summarise,
)

LADDER = str(Path(__file__).parent / "evolve" / "tiny_ladder.toml")
LIBRARY = Path(__file__).parent.parent / "library"


@pytest.fixture(autouse=True)
def _offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))


def test_spread_is_the_mean_and_the_sample_standard_deviation() -> None:
    s = spread([1.0, 2.0, 3.0, 4.0])
    assert (s.mean, s.n) == (2.5, 4)
    assert s.std == pytest.approx(math.sqrt((1.5**2 + 0.5**2 + 0.5**2 + 1.5**2) / 3))


def test_the_pooled_spread_measures_each_design_about_its_own_mean() -> None:
    # a: mean 2, squares 1 + 1 = 2 (n - 1 = 2); b: mean 11, squares 1 + 1 = 2 (n - 1 = 1);
    # pooled variance (2 + 2) / 3; the designs' means (2, 11) differing adds nothing.
    got = pooled_std({"a": [1.0, 2.0, 3.0], "b": [10.0, 12.0], "c": [99.0]})
    assert got.n == 3
    assert got.std == pytest.approx((4 / 3) ** 0.5)
    assert got.mean == pytest.approx(6.5)
    assert pooled_std({"a": [1.0, 2.0, 3.0]}).std == pytest.approx(spread([1.0, 2.0, 3.0]).std)
    with pytest.raises(ConfigError, match="at least 2 seeds"):
        pooled_std({"a": [1.0], "b": []})


def test_a_summary_keeps_only_tasks_every_seed_has() -> None:
    runs = [
        SeedRun(0, 3.0, 0.5, {"a": 0.6, "b": 0.7}, 10.0),
        SeedRun(1, 3.2, 0.4, {"a": 0.8}, 11.0),
    ]
    study = summarise("gpt", "cpu-xs", runs)
    assert set(study.evals) == {"a"} and study.evals["a"].mean == pytest.approx(0.7)
    assert study.bpb.std == pytest.approx(math.sqrt(0.02))
    table = format_study(study)
    assert table.splitlines()[0] == "gpt at cpu-xs: 2 training seeds"
    assert "mean" in table and "std" in table


def test_a_noise_study_trains_each_seed_and_stores_what_it_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from genesys_tui import wall

    out = tmp_path / "studies" / "noise.json"
    argv = ["study", "noise", "gpt", "--rung", "tiny-0", "--ladder", LADDER, "--seeds", "2",
            "--threads", "1", *(["--no-sandbox"] if wall.probe() is not None else [])]
    try:
        assert main([*argv, "--json", "--out", str(out)]) == 0
    finally:
        wall.configure(sandbox=True)
    printed = json.loads(capsys.readouterr().out)
    assert [r["seed"] for r in printed["runs"]] == [0, 1]
    bpbs = [r["bpb"] for r in printed["runs"]]
    assert bpbs[0] != bpbs[1]  # the seed changes initialisation and data order
    assert printed["bpb"]["std"] > 0 and printed["bpb"]["mean"] == pytest.approx(sum(bpbs) / 2)
    stored = load_study(out)
    assert [r.bpb for r in stored.runs] == bpbs and stored.rung == "tiny-0"
    # each seed as the loop verifies it: walled, scored on the graph, the same figures
    from genesys_tui.evolve.jobs import verify_host
    from genesys_tui.results import RungResult

    wall.configure(sandbox=wall.probe() is None)
    try:
        loop = RungResult.from_wire(verify_host(str(LIBRARY / "gpt"), "tiny-0", ladder=LADDER,
                                                seed=1, threads=1, timeout=600))  # fmt: skip
    finally:
        wall.configure(sandbox=True)
    assert loop.bpb == bpbs[1] and loop.score == printed["runs"][1]["score"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["gpt", "--rung", "tiny-0", "--seeds", "1"], "at least 2"),
        (["gpt", "--rung", "nope", "--seeds", "2"], "unknown rung 'nope'"),
        (["no-such-design", "--rung", "tiny-0", "--seeds", "2"], "no-such-design"),
    ],
    ids=["one-seed", "unknown-rung", "unknown-design"],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    out = tmp_path / "noise.json"
    code = main(["study", "noise", *args, "--ladder", LADDER, "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and len(err.splitlines()) == 1
    assert not out.exists()


@pytest.mark.slow
def test_a_noise_study_reads_a_design_by_id_from_a_namespace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from genesys_tui import wall
    from genesys_tui.store import DesignsRepo

    monkeypatch.setenv("GENESYS_DESIGNS_DIR", str(tmp_path / "designs"))
    with DesignsRepo.create(tmp_path / "designs" / "c") as repo:
        gpt = next(r.id for r in repo.records() if r.id.startswith("gpt"))
    argv = ["study", "noise", gpt, "--namespace", "c", "--rung", "tiny-0", "--ladder", LADDER,
            "--seeds", "2", "--threads", "1", "--json",
            *(["--no-sandbox"] if wall.probe() is not None else [])]  # fmt: skip
    try:
        assert main(argv) == 0
        by_id = json.loads(capsys.readouterr().out)
        assert main([*argv[:2], "gpt", *argv[5:]]) == 0  # the library's gpt, by name
        by_name = json.loads(capsys.readouterr().out)
    finally:
        wall.configure(sandbox=True)
    assert by_id["design"] == gpt and by_name["design"] == "gpt"
    # the namespace's design keeps its runs (a discovery's --confirm reads them)
    from genesys_tui.results import repeat_runs

    with DesignsRepo.open(tmp_path / "designs" / "c") as repo:
        kept = repeat_runs(repo.results(gpt))["tiny-0"]
    assert kept.scores == {r["seed"]: pytest.approx(r["score"]) for r in by_id["runs"]}
    # the committed files are the library's: the same figures, seed for seed
    assert [r["bpb"] for r in by_id["runs"]] == [r["bpb"] for r in by_name["runs"]]
    for args, message in [(["nope-9", "--namespace", "c"], "no design 'nope-9'"),
                          ([gpt, "--namespace", "absent"], "absent")]:  # fmt: skip
        out = tmp_path / "noise.json"
        code = main(["study", "noise", *args, "--rung", "tiny-0", "--ladder", LADDER,
                     "--seeds", "2", "--out", str(out)])  # fmt: skip
        err = capsys.readouterr().err.strip()
        assert code == 2 and message in err and len(err.splitlines()) == 1, err
        assert not out.exists()


@pytest.mark.parametrize("command", ["climb", "noise"])
def test_a_namespace_a_loop_writes_is_refused_before_anything_trains(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    """Both keep their runs in the namespace. A loop holds its writer lock for hours: trained
    beside it, the runs could not be kept at the end and the hours were lost."""
    from genesys_tui.evolve import jobs
    from genesys_tui.store import DesignsRepo

    def no_training(*a: object, **k: object) -> None:
        raise AssertionError("trained although the runs could not be kept")

    monkeypatch.setattr(jobs, "verify_host", no_training)
    monkeypatch.setattr(jobs, "check_host", no_training)
    monkeypatch.setenv("GENESYS_DESIGNS_DIR", str(tmp_path / "designs"))
    with DesignsRepo.create(tmp_path / "designs" / "c") as repo:
        gpt = next(r.id for r in repo.records() if r.id.startswith("gpt"))
    argv = {"climb": ["study", "climb", "--designs", gpt],
            "noise": ["study", "noise", gpt, "--seeds", "2"]}[command]  # fmt: skip
    with DesignsRepo.open(tmp_path / "designs" / "c", writer=True):  # the loop
        code = main([*argv, "--namespace", "c", "--rung", "tiny-0", "--ladder", LADDER])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "namespace c is being written by process" in err[-1], err


@pytest.mark.slow
def test_climb_verifies_walled_attaches_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from genesys_tui import wall
    from genesys_tui.results import rung_results
    from genesys_tui.store import DesignsRepo

    monkeypatch.setenv("GENESYS_DESIGNS_DIR", str(tmp_path / "designs"))
    monkeypatch.setenv("GENESYS_CACHE", str(tmp_path / "cache"))
    with DesignsRepo.create(tmp_path / "designs" / "c") as repo:
        ids = [r.id for r in sorted(repo.records(), key=lambda r: r.seq)][:2]
    argv = ["study", "climb", "--namespace", "c", "--ladder", LADDER, "--rung", "tiny-0",
            "--designs", *ids, "--threads", "1"]  # fmt: skip
    if wall.probe() is not None:
        argv.append("--no-sandbox")
    try:
        assert main(argv) == 0
        first = capsys.readouterr()
        assert "2 to verify at tiny-0, 0 done already" in first.err
        with DesignsRepo.open(tmp_path / "designs" / "c") as repo:
            got = {d: rung_results(repo.results(d)).get("tiny-0") for d in ids}
        for design, result in got.items():
            assert result is not None and result.ok, design
            assert any(n.startswith("graph scored: ") for n in result.notes)
            assert f"{design}: bpb {result.bpb:.4f}" in first.out
        assert main(argv) == 0  # everything done: nothing trained again
        assert "0 to verify at tiny-0, 2 done already" in capsys.readouterr().err
        assert main([*argv[:6], "--rung", "no-such-rung"]) == 2
    finally:
        wall.configure(sandbox=True)
        wall.close_spares()
