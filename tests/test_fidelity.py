"""`genesys study fidelity`: how two rungs rank the designs of a namespace that hold both.

The statistics are checked against values worked out by hand; the command runs end to end on
a namespace built here from the library's five seed designs with made-up rung results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genesys_tui.cli import main
from genesys_tui.errors import ConfigError
from genesys_tui.results import RungResult
from genesys_tui.study.fidelity import (
    FIDELITY_FORMAT,
    Row,
    compare,
    format_fidelity,
    rank_moves,
    run_runs_fidelity_study,
)
from genesys_tui.study.ranks import average_ranks, bootstrap, kendall_tau_b, percentile, spearman

# (x, y, Spearman's rho, Kendall's tau-b), each worked out by hand:
CASES = {
    "perfect": ([1, 2, 3, 4, 5], [10, 20, 30, 40, 50], 1.0, 1.0),
    "reversed": ([1, 2, 3, 4, 5], [50, 40, 30, 20, 10], -1.0, -1.0),
    # two adjacent swaps: sum d^2 = 4, rho = 1 - 6*4/(5*24); 8 concordant, 2 discordant of 10
    "two-swaps": ([1, 2, 3, 4, 5], [2, 1, 4, 3, 5], 0.8, 0.6),
    # x ranks 1, 2.5, 2.5, 4: rho = 4.5 / sqrt(4.5 * 5); 5 concordant, 1 pair tied in x
    "tie-in-x": ([1, 2, 2, 3], [1, 2, 3, 4], 0.9486832980505138, 5 / 30**0.5),
    # x ranks 1.5, 1.5, 3, 4 and y 1, 2.5, 2.5, 4: rho = 3.75 / 4.5; tau-b = 4 / sqrt(5 * 5)
    "ties-in-both": ([1, 1, 2, 3], [1, 2, 2, 3], 3.75 / 4.5, 0.8),
}


def test_ties_share_their_average_rank() -> None:
    assert average_ranks([10, 20, 20, 5]) == [2.0, 3.5, 3.5, 1.0]
    assert average_ranks([7, 7, 7]) == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_spearman_and_kendall_match_the_values_worked_by_hand(case: str) -> None:
    x, y, rho, tau = CASES[case]
    assert spearman(x, y) == pytest.approx(rho)
    assert kendall_tau_b(x, y) == pytest.approx(tau)
    assert spearman(y, x) == pytest.approx(rho) and kendall_tau_b(y, x) == pytest.approx(tau)


def test_kendall_is_tau_b_not_tau_a_under_ties() -> None:
    # tau-a would be 5 / 6: only tau-b's denominator discounts the pair tied in x
    assert kendall_tau_b([1, 2, 2, 3], [1, 2, 3, 4]) != pytest.approx(5 / 6)


def test_a_constant_ranking_has_no_correlation() -> None:
    assert spearman([1, 2, 3], [4, 4, 4]) is None
    assert kendall_tau_b([4, 4, 4], [1, 2, 3]) is None


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([0.0, 1.0, 2.0, 3.0, 4.0], 0.5) == 2.0
    assert percentile([0.0, 10.0], 0.25) == 2.5
    assert percentile([0.0, 1.0, 2.0], 1.0) == 2.0


NOISY_X = [0.31, 0.42, 0.38, 0.55, 0.47, 0.29, 0.61, 0.50, 0.44, 0.36]
NOISY_Y = [0.30, 0.45, 0.33, 0.52, 0.49, 0.35, 0.58, 0.43, 0.47, 0.32]


def test_the_bootstrap_interval_holds_the_estimate_and_replays_with_its_seed() -> None:
    rho_i, tau_i = bootstrap(NOISY_X, NOISY_Y, 500, seed=7)
    assert rho_i is not None and tau_i is not None
    rho, tau = spearman(NOISY_X, NOISY_Y), kendall_tau_b(NOISY_X, NOISY_Y)
    assert rho is not None and tau is not None
    assert rho_i.low <= rho <= rho_i.high and rho_i.low < rho_i.high
    assert tau_i.low <= tau <= tau_i.high and tau_i.low < tau_i.high
    assert (rho_i.drawn, tau_i.used) == (500, rho_i.used)
    assert bootstrap(NOISY_X, NOISY_Y, 500, seed=7) == (rho_i, tau_i)
    assert bootstrap(NOISY_X, NOISY_Y, 500, seed=8) != (rho_i, tau_i)


def test_the_bootstrap_skips_resamples_where_a_ranking_is_constant() -> None:
    # of three designs, 3 of the 27 equally likely resamples draw one design three times
    rho_i, tau_i = bootstrap([1, 2, 3], [1, 3, 2], 2000, seed=0)
    assert rho_i is not None and tau_i is not None
    assert 2000 / 9 - 80 < 2000 - rho_i.used < 2000 / 9 + 80 and tau_i.used == rho_i.used
    assert bootstrap([1, 2, 3], [5, 5, 5], 200, seed=0) == (None, None)


def test_rank_moves_name_the_designs_that_move_most_best_first() -> None:
    designs = ["a", "b", "c", "d", "e"]
    # higher is better: a..e rank 1..5 at A; at B, e rises to 1 and a falls to 4
    moves = rank_moves(designs, [5, 4, 3, 2, 1], [2, 4, 3, 1.5, 6], higher_is_better=True)
    assert [(m.design, m.rank_a, m.rank_b) for m in moves] == [
        ("e", 5, 1),
        ("a", 1, 4),
        ("d", 4, 5),
    ]
    # lower is better (bits per byte): the same order read the other way round
    flipped = rank_moves(designs, [1, 2, 3, 4, 5], [4, 2, 3, 5, 1], higher_is_better=False)
    assert [(m.design, m.change) for m in flipped] == [("e", -4), ("a", 3), ("d", 1)]
    assert rank_moves(designs, [1, 2, 3, 4, 5], [1, 2, 3, 4, 5], True) == ()


def _rows(n: int) -> list[Row]:
    return [
        Row(f"d-{i}", NOISY_X[i], 4 - NOISY_X[i], NOISY_Y[i], 3 - NOISY_Y[i], 10.0, 40.0 + i)
        for i in range(n)
    ]


def test_a_study_warns_below_eight_designs_and_refuses_below_three() -> None:
    assert compare("ns", "a", "b", _rows(8), 200, 0).warning == ""
    few = compare("ns", "a", "b", _rows(5), 200, 0)
    assert few.warning.startswith("only 5 designs hold results at both rungs")
    assert few.score.spearman is not None and few.seconds_b == pytest.approx(42.0)
    with pytest.raises(ConfigError, match="only 2 designs"):
        compare("ns", "a", "b", _rows(2), 200, 0)


def test_bits_per_byte_read_lower_is_better_agree_as_scores_do() -> None:
    study = compare("ns", "a", "b", _rows(10), 200, 0)
    assert study.bpb.spearman == pytest.approx(study.score.spearman)
    assert [(m.design, m.change) for m in study.bpb.moves] == [
        (m.design, m.change) for m in study.score.moves
    ]


# ---- the command on a namespace ----------------------------------------------------------


SCORES = {  # design index -> (score at cpu-xs, bpb at cpu-xs, score at cpu-s, bpb at cpu-s)
    0: (0.50, 3.90, 0.36, 1.75),
    1: (0.57, 3.45, 0.40, 1.70),
    2: (0.53, 3.70, 0.41, 1.68),
    3: (0.55, 3.60, 0.35, 1.80),
}


@pytest.fixture
def namespace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Namespace ``fid``: the five seeds; four hold results at cpu-xs and cpu-s, the fifth
    only a failed cpu-s result and an ok cpu-xs one."""
    from genesys_tui.store import DesignsRepo

    monkeypatch.setenv("GENESYS_DESIGNS_DIR", str(tmp_path / "designs"))
    with DesignsRepo.create(tmp_path / "designs" / "fid") as repo:
        ids = [r.id for r in sorted(repo.records(), key=lambda r: r.seq)]
        for i, design in enumerate(ids):
            xs, xbpb, s, sbpb = SCORES.get(i, (0.52, 3.8, 0.0, 0.0))
            repo.attach(design, "rung:cpu-xs", _ok(xs, xbpb, 12.0).to_note())
            cpu_s = _ok(s, sbpb, 300.0) if i in SCORES else RungResult.failed("diverged", 5.0)
            repo.attach(design, "rung:cpu-s", cpu_s.to_note())
    return ids


def _ok(score: float, bpb: float, seconds: float) -> RungResult:
    return RungResult(ok=True, scores={"score": score, "bpb": bpb}, seconds=seconds)


def test_the_command_compares_the_designs_both_rungs_hold(
    namespace: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "studies" / "fidelity.json"
    argv = ["study", "fidelity", "--namespace", "fid", "--rungs", "cpu-xs", "cpu-s"]
    assert main([*argv, "--bootstrap", "200", "--json", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    printed = json.loads(captured.out)
    assert printed == json.loads(out.read_text())
    assert printed["format"] == FIDELITY_FORMAT
    assert [r["design"] for r in printed["rows"]] == namespace[:4]  # the failed one left out
    assert "only 4 designs hold results" in printed["warning"] and "only 4" in captured.err
    # score ranks 4,1,3,2 at cpu-xs and 3,2,1,4 at cpu-s: d^2 = 1,1,4,4, rho = 1 - 60/60
    assert printed["score"]["spearman"] == pytest.approx(0.0)
    # bpb ranks 4,1,3,2 and 3,2,1,4 again (lower is better): the same correlation
    assert printed["bpb"]["spearman"] == pytest.approx(0.0)
    assert printed["score"]["kendall"] == pytest.approx(0.0)  # 3 concordant, 3 discordant
    assert printed["seconds_a"] == 12.0 and printed["seconds_b"] == 300.0
    moves = [(m["design"], m["rank_a"], m["rank_b"]) for m in printed["score"]["moves"]]
    assert moves == [(namespace[2], 3, 1), (namespace[3], 2, 4), (namespace[0], 4, 3)]
    assert main(argv) == 0
    table = capsys.readouterr().out
    assert "warning: only 4 designs hold results at both rungs" in table
    assert "largest rank moves" in table and namespace[0] in table
    assert "cost: 12.0 s per design at cpu-xs, 300.0 s at cpu-s" in table


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--namespace", "nope", "--rungs", "cpu-xs", "cpu-s"], "unknown namespace 'nope'"),
        (["--namespace", "fid", "--rungs", "cpu-xs", "cpu-m"], "rung 'cpu-m'"),
        (["--namespace", "fid", "--rungs", "cpu-s", "cpu-s"], "'cpu-s' twice"),
        (["--namespace", "fid", "--rungs", "cpu-xs", "cpu-s", "--bootstrap", "99"], "at least 100"),
        (["--namespace", "fid", "--rungs", "cpu-xs", "tiny"], "only 2 designs"),
    ],
    ids=["unknown-namespace", "rung-no-design-holds", "same-rung-twice", "few-resamples",
         "two-shared"],
)  # fmt: skip
def test_bad_input_is_one_line_exit_2_and_nothing_written(
    namespace: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    from genesys_tui.store import DesignsRepo

    with DesignsRepo.open(tmp_path / "designs" / "fid", writer=True) as repo:
        for design in namespace[:2]:
            repo.attach(design, "rung:tiny", _ok(0.5, 3.0, 1.0).to_note())
    out = tmp_path / "fidelity.json"
    code = main(["study", "fidelity", *args, "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_stats_prints_each_rungs_sigma_and_how_it_ranks_like_the_next(
    namespace: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["stats", "--namespace", "fid"]) == 0
    out = capsys.readouterr().out
    lines = out[out.index("rung      sigma"):].splitlines()
    # 5 ok results at cpu-xs; 4 at cpu-s (one failed); rho 0 over the 4 (worked above)
    assert lines[1].split()[:3] == ["cpu-xs", "0.0032", "5"]
    assert "+0.00 with cpu-s over 4 designs (fewer than 8)" in lines[1]
    assert lines[2].split() == ["cpu-s", "0.0159", "4", "-"]


# ---- fidelity over training-seed means (--runs) ------------------------------------------------


def _pooled(path: Path, rung: str, designs: dict[str, tuple[dict[int, float], dict[int, float]]]
            ) -> Path:  # fmt: skip
    """A pooled file: design -> (scores by training seed, bits per byte by training seed)."""
    body = {name: {"scores_by_training_seed": {str(s): v for s, v in scores.items()},
                   "bpb_by_training_seed": {str(s): v for s, v in bpb.items()}}
            for name, (scores, bpb) in designs.items()}  # fmt: skip
    path.write_text(json.dumps({"rung": rung, "designs": body}), encoding="utf-8")
    return path


def test_runs_rows_rank_each_design_by_its_mean_over_training_seeds(tmp_path: Path) -> None:
    # One seed each would rank a over b at the cheap rung (seed 0: 0.90 against 0.80); over
    # its three seeds a's mean is 0.70, below b's 0.80.
    cheap = _pooled(tmp_path / "a.json", "cpu-s8", {
        "a": ({0: 0.90, 1: 0.60, 2: 0.60}, {0: 2.0, 1: 2.2, 2: 2.4}),
        "b": ({0: 0.80, 1: 0.80}, {0: 2.1, 1: 2.1}),
        "c": ({0: 0.50}, {0: 2.5}),
        "only-cheap": ({0: 0.99}, {0: 1.0}),
    })  # fmt: skip
    dear = _pooled(tmp_path / "b.json", "cpu-s", {
        "c": ({0: 0.30, 1: 0.32}, {0: 1.80, 1: 1.82}),
        "b": ({0: 0.41}, {0: 1.70}),
        "a": ({0: 0.35, 3: 0.37}, {0: 1.75, 3: 1.77}),
    })  # fmt: skip
    study = run_runs_fidelity_study(cheap, dear, resamples=200, seed=0)
    assert (study.rung_a, study.rung_b) == ("cpu-s8", "cpu-s")
    assert [r.design for r in study.rows] == ["c", "b", "a"]  # the dearer file's order
    a = study.rows[2]
    assert (a.score_a, a.bpb_a, a.n_a) == (pytest.approx(0.70), pytest.approx(2.2), 3)
    assert (a.score_b, a.bpb_b, a.n_b) == (pytest.approx(0.36), pytest.approx(1.76), 2)
    # means: cheap b 0.80 > a 0.70 > c 0.50; dear b 0.41 > a 0.36 > c 0.31: the same order
    assert study.score.spearman == pytest.approx(1.0) and study.score.kendall == pytest.approx(1.0)
    # bpb: cheap b 2.1 < a 2.2 < c 2.5; dear b 1.70 < a 1.76 < c 1.81
    assert study.bpb is not None and study.bpb.spearman == pytest.approx(1.0)
    assert "fewer" not in study.warning and "3 designs" in study.warning
    assert study.seconds_a is None and "cost: not recorded" in format_fidelity(study)
    assert "seeds cpu-s8" in format_fidelity(study)
    # with every run's seconds recorded, the cost is the mean over designs of their means
    body = json.loads(cheap.read_text())
    # (a cost, not a ranked figure: a design's mean is over the runs that recorded them)
    for name, seconds in (("a", {"0": 100, "2": 300}), ("b", {"0": 50, "1": 50}),
                          ("c", {"0": 10}), ("only-cheap", {"0": 1})):
        body["designs"][name]["seconds_by_training_seed"] = seconds
    cheap.write_text(json.dumps(body), encoding="utf-8")
    timed = run_runs_fidelity_study(cheap, dear, resamples=200, seed=0)
    assert timed.seconds_a == pytest.approx((10 + 50 + 200) / 3) and timed.seconds_b is None


def test_a_design_missing_bits_per_byte_leaves_bpb_uncompared(tmp_path: Path) -> None:
    cheap = _pooled(tmp_path / "a.json", "cpu-s8", {
        "a": ({0: 0.7, 1: 0.8}, {0: 2.0}),  # seed 1 recorded no bits per byte
        "b": ({0: 0.6}, {0: 2.1}),
        "c": ({0: 0.5}, {0: 2.2}),
    })  # fmt: skip
    dear = _pooled(tmp_path / "b.json", "cpu-s", {n: ({0: v}, {0: 1.7}) for n, v in
                                                  (("a", 0.3), ("b", 0.5), ("c", 0.4))})
    study = run_runs_fidelity_study(cheap, dear, resamples=200, seed=0)
    assert study.rows[0].bpb_a is None and study.bpb is None
    assert study.score.spearman == pytest.approx(-0.5)  # a 1 -> 3, b 2 -> 1, c 3 -> 2
    assert "bpb: not compared" in format_fidelity(study)
    assert json.loads(study.to_json())["bpb"] is None


def test_the_runs_command_prints_stores_and_refuses_bad_input(tmp_path: Path, capsys,
                                                              monkeypatch) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    three = {n: ({0: v}, {0: 2.0 + v}) for n, v in (("a", 0.1), ("b", 0.2), ("c", 0.3))}
    _pooled(Path("a.json"), "cpu-s8", three)
    _pooled(Path("b.json"), "cpu-s", three)
    assert main(["study", "fidelity", "--runs", "a.json", "b.json", "--out", "f.json"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("cpu-s8 against cpu-s in a.json and b.json: 3 designs at both rungs")
    assert json.loads(Path("f.json").read_text())["score"]["spearman"] == pytest.approx(1.0)
    bad = [
        (["--runs", "a.json", "b.json", "--rungs", "x", "y"], "--rungs goes with --namespace"),
        (["--namespace", "ns"], "--namespace needs --rungs"),
        (["--runs", "a.json", "a.json"], "both at cpu-s8"),
        (["--runs", "a.json", "missing.json"], "missing.json: no such file"),
        (["--runs", "a.json", "b.json", "--bootstrap", "5"], "--bootstrap must be at least"),
    ]
    _pooled(Path("few.json"), "cpu-s", {"a": ({0: 0.1}, {0: 2.0})})
    bad.append((["--runs", "a.json", "few.json"], "only 1 designs hold results"))
    for args, message in bad:
        assert main(["study", "fidelity", *args, "--out", "g.json"]) == 2, args
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, (args, err)
        assert not Path("g.json").exists()
