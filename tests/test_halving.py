"""``genesys study halving``: the loss part-way through a rung against the finished results,
on a fixture namespace whose curves cross (early losses rank the designs backwards, later ones
as they finish), against hand-computed values; bad input is one line and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genesys_tui.cli import main
from genesys_tui.evolve.halving import early_loss
from genesys_tui.results import RungResult

SCORES = [0.10, 0.20, 0.30, 0.40]  # design i finishes i-th best from the bottom


def _curve(i: int) -> list[tuple[int, float]]:
    # Until step 30 the best finisher has the highest loss; from step 40 the lowest.
    return [(s, 5.0 + i if s <= 30 else 5.0 - i) for s in range(0, 101, 2)]


@pytest.fixture
def namespace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    from genesys_tui.store import DesignsRepo

    monkeypatch.setenv("GENESYS_DESIGNS_DIR", str(tmp_path / "designs"))
    with DesignsRepo.create(tmp_path / "designs" / "halve") as repo:
        ids = [r.id for r in sorted(repo.records(), key=lambda r: r.seq)][:4]
        for i, design in enumerate(ids):
            result = RungResult(
                ok=True, scores={"score": SCORES[i], "bpb": 4.0 - i}, seconds=10.0,
                curve=tuple(_curve(i)),
            )  # fmt: skip
            repo.attach(design, "rung:r1", result.to_note())
    return ids


def test_early_loss_is_the_mean_of_the_window_before_the_stop() -> None:
    curve = [(s, float(s)) for s in range(0, 101, 10)]  # loss = step
    assert early_loss(curve, 0.5) == 50.0  # window [45, 50] holds step 50 only
    assert early_loss([(s, float(s)) for s in range(101)], 0.5) == pytest.approx(47.5)
    assert early_loss(curve, 0.33) == 30.0  # no point in [28, 33]: the last one before
    assert early_loss([], 0.5) is None


def test_the_study_sees_the_curves_cross(
    namespace: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "h.json"
    argv = ["study", "halving", "--namespace", "halve", "--rung", "r1", "--bootstrap", "200"]
    assert main([*argv, "--fractions", "0.25", "0.5", "--json", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    study = json.loads(captured.out)
    assert study == json.loads(out.read_text())
    assert study["designs"] == namespace and "fewer than 8" in captured.err
    early, late = study["cuts"]
    assert early["fraction"] == 0.25 and early["saved"] == 0.375
    assert early["score_spearman"] == pytest.approx(-1.0)  # backwards before the crossing
    assert early["bpb_spearman"] == pytest.approx(-1.0)
    assert not early["best_kept"] and early["top_kept"] == 0 and early["top"] == 1
    assert late["score_spearman"] == pytest.approx(1.0) and late["score_kendall"] == 1.0
    assert late["best_kept"] and late["top_kept"] == 1
    assert main(argv) == 0
    assert "stop at" in capsys.readouterr().out


def test_bad_input_is_one_line_and_exit_2(
    namespace: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["study", "halving", "--namespace", "halve"]
    assert main([*base, "--rung", "nope"]) == 2
    assert "has 0 designs with a loss curve at rung 'nope'" in capsys.readouterr().err
    assert main([*base, "--rung", "r1", "--fractions", "1.5"]) == 2
    assert "strictly between 0 and 1" in capsys.readouterr().err
    assert main(["study", "halving", "--namespace", "ghost", "--rung", "r1"]) == 2
    assert "unknown namespace" in capsys.readouterr().err
