"""`genesys study compare`: a design's mean over training seeds against other designs'."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from genesys_tui.cli import main
from genesys_tui.errors import ConfigError
from genesys_tui.study.compare import (
    Runs,
    compare,
    compare_runs,
    format_compare,
    numerics_note,
    read_runs,
)
from genesys_tui.study.noise import SeedRun, summarise


def test_the_difference_of_means_is_read_against_its_standard_error() -> None:
    a = Runs("a", "cpu-s", {0: 0.40, 1: 0.38})
    b = Runs("b", "cpu-s", {0: 0.36, 1: 0.38, 2: 0.34})
    c = compare_runs(a, b, sigma=0.01)
    # means 0.39 and 0.36; s.e. 0.01 * sqrt(1/2 + 1/3) = 0.0091287; z = 0.03 / 0.0091287
    assert c.difference == pytest.approx(0.03)
    assert c.standard_error == pytest.approx(0.01 * math.sqrt(5 / 6))
    assert c.z == pytest.approx(3.2863353, rel=1e-6)
    assert c.verdict == "beats"
    # seeds 0 and 1 are shared: differences +0.04 and 0.00
    assert c.paired_seeds == (0, 1)
    assert c.paired_mean == pytest.approx(0.02)
    assert c.paired_std == pytest.approx(math.sqrt(0.0008))
    assert c.paired_t == pytest.approx(0.02 / (math.sqrt(0.0008) / math.sqrt(2)))  # = 1.0
    assert c.paired_wins == 1


def test_one_run_a_side_is_the_margin_over_sigma_root_two() -> None:
    # the loop's single-run margin of 2.5 sigma is below 2 standard errors of a difference
    c = compare_runs(Runs("a", "r", {3: 0.525}), Runs("b", "r", {3: 0.5}), sigma=0.01)
    assert c.z == pytest.approx(2.5 / math.sqrt(2))
    assert c.verdict == "tie"
    unpaired = compare_runs(Runs("a", "r", {0: 0.4}), Runs("b", "r", {1: 0.5}), 0.01)
    assert unpaired.verdict == "loses" and unpaired.paired_mean is None
    assert unpaired.paired_t is None and c.paired_t is None  # one pair has no spread


def test_a_comparison_lists_the_closest_baseline_first_and_skips_the_candidate() -> None:
    cand = Runs("x", "cpu-s", {0: 0.40, 1: 0.41})
    base = [Runs("far", "cpu-s", {0: 0.30, 1: 0.31}), Runs("near", "cpu-s", {0: 0.39, 1: 0.40}),
            Runs("x", "cpu-s", {0: 0.0})]  # fmt: skip
    study = compare(cand, base, sigma=0.01)  # near: z 1 (a tie); far: z 10
    assert [c.baseline for c in study.comparisons] == ["near", "far"]
    assert not study.beats_all and "ties with near" in study.summary()
    assert compare(cand, base[:1], sigma=0.01).beats_all
    assert format_compare(study).splitlines()[-1] == study.summary()
    with pytest.raises(ConfigError, match="measured at cpu-xs"):
        compare(cand, [Runs("y", "cpu-xs", {0: 0.1})], sigma=0.01)
    with pytest.raises(ConfigError, match="positive"):
        compare_runs(cand, base[0], sigma=0.0)


def _noise_file(path: Path, design: str, scores: dict[int, float]) -> Path:
    runs = [SeedRun(s, 1.6, v, {}, 1.0) for s, v in scores.items()]
    path.write_text(summarise(design, "cpu-s", runs).to_json(), encoding="utf-8")
    return path


def _pooled_file(path: Path) -> Path:
    designs = {
        "gpt": {"scores_by_training_seed": {"0": 0.36, "1": 0.37}},
        "rwkv7": {"scores_by_training_seed": {"0": 0.38, "1": 0.40, "2": 0.39}},
    }
    path.write_text(json.dumps({"rung": "cpu-s", "designs": designs}), encoding="utf-8")
    return path


def test_both_kinds_of_stored_study_are_read(tmp_path: Path) -> None:
    noise = read_runs(_noise_file(tmp_path / "n.json", "cand", {0: 0.41, 1: 0.42}))
    assert [(r.design, r.rung, r.scores) for r in noise] == [("cand", "cpu-s", {0: 0.41, 1: 0.42})]
    pooled = {r.design: r.scores for r in read_runs(_pooled_file(tmp_path / "p.json"))}
    assert pooled == {"gpt": {0: 0.36, 1: 0.37}, "rwkv7": {0: 0.38, 1: 0.40, 2: 0.39}}


def test_the_command_prints_and_stores_the_comparison(tmp_path: Path, capsys) -> None:
    cand = _noise_file(tmp_path / "n.json", "cand", {0: 0.45, 1: 0.44})
    pooled = _pooled_file(tmp_path / "p.json")
    out = tmp_path / "out" / "compare.json"
    rc = main(["study", "compare", str(cand), "--against", str(pooled), "--designs", "rwkv7",
               "--sigma", "0.01", "--out", str(out)])  # fmt: skip
    assert rc == 0
    printed = capsys.readouterr().out
    stored = json.loads(out.read_text())
    assert [c["baseline"] for c in stored["comparisons"]] == ["rwkv7"]
    # means 0.445 and 0.39, s.e. 0.01 * sqrt(1/2 + 1/3)
    assert stored["comparisons"][0]["z"] == pytest.approx(0.055 / (0.01 * math.sqrt(5 / 6)))
    assert stored["beats_all"] is True and stored["summary"] in printed
    # the ladder's cpu-s sigma is the default
    assert main(["study", "compare", str(cand), "--against", str(pooled), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sigma"] == pytest.approx(0.0159)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--against", "missing.json"], "missing.json: no such file"),
        (["--against", "p.json", "--designs", "mamba2"], "not in the baseline files: mamba2"),
        (["--against", "bad.json"], "bad.json: not readable as JSON"),
        (["--against", "n.json"], "no baseline to compare with"),
        (["--against", "p.json", "--ladder", "nope"], "nope"),
        (["--against", "p.json", "--design", "ttt"], "n.json: no design 'ttt'; it holds cand"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    _noise_file(tmp_path / "n.json", "cand", {0: 0.45, 1: 0.44})
    _pooled_file(tmp_path / "p.json")
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    rc = main(["study", "compare", "n.json", *args, "--out", "out.json"])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out.json").exists()


def test_the_candidate_can_be_one_design_of_a_pooled_file(tmp_path: Path, capsys) -> None:
    pooled = _pooled_file(tmp_path / "p.json")
    rc = main(["study", "compare", str(pooled), "--design", "rwkv7", "--against", str(pooled),
               "--sigma", "0.01", "--json"])  # fmt: skip
    assert rc == 0
    study = json.loads(capsys.readouterr().out)
    assert study["candidate"] == "rwkv7" and len(study["candidate_scores"]) == 3
    # rwkv7 (0.38, 0.40, 0.39) against gpt (0.36, 0.37), itself left out of the baselines
    assert [c["baseline"] for c in study["comparisons"]] == ["gpt"]
    assert study["comparisons"][0]["z"] == pytest.approx(0.025 / (0.01 * math.sqrt(1 / 3 + 1 / 2)))
    # without --design a file of several designs is refused, naming the way out
    assert main(["study", "compare", str(pooled), "--against", str(pooled)]) == 2
    assert "holds 2 designs; name the candidate with --design NAME" in capsys.readouterr().err


def test_a_baseline_in_several_files_is_merged_over_its_seeds_the_later_file_winning(
    tmp_path: Path,
) -> None:
    from genesys_tui.study.compare import load_inputs

    cand = _noise_file(tmp_path / "n.json", "cand", {0: 0.45, 1: 0.44})
    older = _pooled_file(tmp_path / "older.json")
    newer = _noise_file(tmp_path / "newer.json", "rwkv7", {0: 0.41, 5: 0.42})
    for names in ([], ["rwkv7", "gpt"]):
        _, baselines = load_inputs(cand, [older, newer], names)
        by_name = {b.design: b for b in baselines}
        assert len(baselines) == len(by_name) == 2  # each once
        assert by_name["rwkv7"].scores == {0: 0.41, 1: 0.40, 2: 0.39, 5: 0.42}
        assert by_name["rwkv7"].source == f"{older}, {newer}"
        assert by_name["gpt"].scores == {0: 0.36, 1: 0.37}
    elsewhere = tmp_path / "s8.json"
    elsewhere.write_text(json.dumps({"rung": "cpu-s8", "designs": {
        "rwkv7": {"scores_by_training_seed": {"0": 0.73}}}}), encoding="utf-8")  # fmt: skip
    with pytest.raises(ConfigError, match=r"rwkv7 is at cpu-s .* and at cpu-s8 .*do not merge"):
        load_inputs(cand, [older, elsewhere], [])


def test_runs_on_different_numerics_are_named_in_the_comparisons_note() -> None:
    scores = {"rwkv7": {0: 0.37, 3: 0.38, 4: 0.39}, "leader": {0: 0.41, 4: 0.42}}
    avx512, avx2 = "torch 2.13.0+cpu, cpu AVX512", "torch 2.13.0+cpu, cpu AVX2"
    same = {"rwkv7": dict.fromkeys((0, 3, 4), avx512), "leader": dict.fromkeys((0, 4), avx512)}
    assert numerics_note(scores, same) == ""
    mixed = {**same, "rwkv7": {0: avx512, 3: avx2, 4: avx2}}
    note = numerics_note(scores, mixed)
    assert "different numerics" in note
    assert f"3 run(s) on {avx512}" in note and f"2 run(s) on {avx2}" in note
    # a run with no record (older results, stored files) among recorded ones is said too
    unknown = {**same, "leader": {0: avx512}}
    assert numerics_note(scores, unknown).startswith("1 of 5 runs compared have no numerics")
    assert numerics_note(scores, {}) == ""  # nothing recorded: nothing to compare


def test_a_noise_studys_numerics_reach_the_comparison(tmp_path: Path) -> None:
    avx512, avx2 = "torch 2.13.0+cpu, cpu AVX512", "torch 2.13.0+cpu, cpu AVX2"
    runs = [SeedRun(s, 1.6, v, {}, 1.0, avx512) for s, v in {0: 0.45, 1: 0.44}.items()]
    path = tmp_path / "n.json"
    path.write_text(summarise("cand", "cpu-s", runs).to_json(), encoding="utf-8")
    (cand,) = read_runs(path)
    assert cand.numerics == {0: avx512, 1: avx512}
    same = compare(cand, [Runs("rwkv7", "cpu-s", {0: 0.40, 1: 0.41}, numerics={0: avx512,
                                                                             1: avx512})],
                   sigma=0.01)  # fmt: skip
    assert same.note == ""
    mixed = compare(cand, [Runs("rwkv7", "cpu-s", {0: 0.40, 1: 0.41}, numerics={0: avx2, 1: avx2})],
                    sigma=0.01, note="seed 4 left out")  # fmt: skip
    assert mixed.note.startswith("seed 4 left out; the runs compared were computed on different")
    assert avx2 in format_compare(mixed)  # the note is printed with the table


def test_bits_per_byte_are_read_and_merged_with_their_seeds_score(tmp_path: Path) -> None:
    from genesys_tui.study.compare import merge_runs

    noise = read_runs(_noise_file(tmp_path / "n.json", "x", {0: 0.40, 1: 0.41}))[0]
    assert noise.bpb == {0: 1.6, 1: 1.6}  # _noise_file's runs all record 1.6
    pooled = tmp_path / "p.json"
    pooled.write_text(json.dumps({"rung": "cpu-s", "designs": {"x": {
        "scores_by_training_seed": {"1": 0.5, "2": 0.6}, "bpb_by_training_seed": {"2": 1.5}}}}),
        encoding="utf-8")  # fmt: skip
    later = read_runs(pooled)[0]
    assert later.bpb == {2: 1.5}
    merged = merge_runs([noise, later])["x"]
    # seed 1's later run recorded no bits per byte: the earlier run's must not stay beside
    # the later run's score
    assert merged.scores == {0: 0.40, 1: 0.5, 2: 0.6}
    assert merged.bpb == {0: 1.6, 2: 1.5}
    assert noise.seconds == {0: 1.0, 1: 1.0} and merged.seconds == {0: 1.0}  # the same rule
