"""`genesys study surrogate`: the learning designer's surrogate predicting each grown design
from the designs made before it. The predictions are checked against fits made by hand; the
command runs end to end on a namespace built here (library seeds and grown GPT variants with
made-up cpu-s8 scores)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genesys_tui.cli import main
from genesys_tui.evolve.learning import MIN_RESULTS, Example, Surrogate
from genesys_tui.study.surrogate import predictions

LIBRARY = Path(__file__).parents[1] / "library"


def _ex(run: str, design: str, feature: str, score: float | None) -> Example:
    return Example(run, design, frozenset({feature}), {} if score is None else {"r": score}, True)


def test_each_grown_design_is_predicted_from_the_designs_made_before_it() -> None:
    seeds = [(_ex("ns", f"s{i}", "a" if i % 2 else "b", 0.5 + i / 100), False) for i in range(7)]
    grown = [(_ex("ns", "g1", "a", 0.7), True), (_ex("ns", "g2", "b", None), True),
             (_ex("ns", "g3", "b", 0.4), True)]  # fmt: skip
    made = seeds + grown
    got = predictions(made, "r")
    # g1 has seven scores before it: too few; g2 has no score; g3 is predicted from eight
    assert [p.design for p in got] == ["g3"] and MIN_RESULTS == 8
    before = [({"b" if i % 2 == 0 else "a", "run:ns"}, 0.5 + i / 100) for i in range(7)]
    checked = [({"a"}, True)] * 4 + [({"b"}, True)] * 5
    model = Surrogate.fit([*before, ({"a", "run:ns"}, 0.7)], checked)
    assert got[0].predicted == pytest.approx(model.score({"b"})) and got[0].score == 0.4
    # an earlier run's designs count before all of them: now g1 is predicted too
    earlier = [_ex("old", f"o{i}", "a", 0.9) for i in range(3)]
    assert [p.design for p in predictions(made, "r", earlier)] == ["g1", "g3"]


def _namespace(path: Path) -> None:
    """The five library seeds and nine GPT variants, each with a cpu-s8 score; the variants'
    proposals say how a learning designer chose them (five ranked, four unranked)."""
    from genesys_tui.results import RungResult
    from genesys_tui.store import DesignsRepo
    from genesys_tui.store.library import import_library

    files = {str(p.relative_to(LIBRARY / "gpt")): p.read_text()
             for p in (LIBRARY / "gpt").rglob("*") if p.is_file()}  # fmt: skip
    with DesignsRepo.create(path, seeds=False) as repo:
        import_library(repo, [LIBRARY / n for n in ("gpt", "mamba2", "retnet", "rwkv7", "ttt")])
        gpt = next(r.id for r in repo.records() if r.name == "gpt")
        for i in range(9):
            why = "ranked 8 candidates by a surrogate" if i < 5 else "explored: unranked"
            repo.commit_design({**files, "proposal.md": f"variant {i}\n\n## Chosen\n\n{why}.\n"},
                               parents=[gpt], designer="offline", title=f"variant {i}")  # fmt: skip
        for rec in repo.records():
            note = RungResult(ok=True, scores={"score": 0.5 + rec.seq / 100}).to_note()
            repo.attach(rec.id, "rung:cpu-s8", note)


def test_the_study_runs_end_to_end_and_refuses_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GENESYS_DESIGNS_DIR", str(tmp_path))
    _namespace(tmp_path / "run")
    out = tmp_path / "study.json"
    assert main(["study", "surrogate", "run", "--rung", "cpu-s8", "--out", str(out)]) == 0
    table = capsys.readouterr().out
    assert "run" in table and "ranked" in table
    (fit,) = json.loads(out.read_text())["runs"]
    # 14 designs: the variants from the fourth on have eight scores before them
    assert fit["grown"] == 9 and len(fit["predictions"]) == 6
    assert (fit["ranked"], fit["unranked"]) == (5, 4)
    last_six = [0.5 + seq / 100 for seq in range(9, 15)]  # in the order they were made
    assert [p["score"] for p in fit["predictions"]] == pytest.approx(last_six)
    for bad in (["nope", "--rung", "cpu-s8"], ["run", "--rung", "cpu-m"],
                ["run", "--rung", "cpu-s8", "--prior", "gone"]):  # fmt: skip
        assert main(["study", "surrogate", *bad]) == 2
        assert len(capsys.readouterr().err.strip().splitlines()) == 1
