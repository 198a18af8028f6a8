"""The learning designer (issue 14, section 4): its surrogate against hand-computed values, and
its choices against the plain offline designer's on the same requests."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from genesys_tui.design import Design, load_design
from genesys_tui.designer import DesignRequest, Parent, Proposal
from genesys_tui.evolve.learning import Example, LearningDesigner, Surrogate, features
from genesys_tui.evolve.offline import OfflineDesigner
from genesys_tui.evolve.pool import UnitPool
from tests.conftest import REPO

LIBRARY = REPO / "library"


def test_the_ridge_fit_and_rejection_rates_match_hand_computed_values() -> None:
    # a and b are complementary; a's designs score 0.6, b's 0.5. Centred, the normal equations
    # are [[2, -1], [-1, 2]] w = [0.1, -0.1]: w = (1/30, -1/30), intercept 0.55.
    scored = [({"a"}, 0.6), ({"a"}, 0.6), ({"b"}, 0.5), ({"b"}, 0.5)]
    checked = [({"a"}, False), ({"a"}, False), ({"b"}, True), ({"b"}, True)]
    model = Surrogate.fit(scored, checked)
    assert model.score({"a"}) == pytest.approx(0.55 + 1 / 30)
    assert model.score({"b"}) == pytest.approx(0.55 - 1 / 30)
    assert model.score({"unknown"}) == pytest.approx(0.55)
    # Rejected: 2 of 4 -> base (2 + 1) / (4 + 2) = 0.5; a: (2 + 2 * 0.5) / (2 + 2) = 0.75.
    assert model.base_reject == pytest.approx(0.5)
    assert model.reject_risk({"a"}) == pytest.approx(0.75)
    assert model.reject_risk({"b"}) == pytest.approx(0.25)
    assert model.reject_risk({"a", "b"}) == pytest.approx(0.75)
    assert model.spread == pytest.approx(0.05)
    assert model.value({"b"}) == pytest.approx(0.55 - 1 / 30 - 0.25 * 0.05)


@dataclass
class _Record:
    id: str
    rungs: dict[str, dict[str, float]] = field(default_factory=dict)
    check: dict[str, Any] | None = None


class _Repo:
    """Designs of the library with scores: everything built on Mamba-2's mixer scores high."""

    def __init__(self, favoured: str) -> None:
        self.designs: dict[str, Design] = {}
        self.recs: list[_Record] = []
        for i in range(3):
            for name in ("gpt", "mamba2", "retnet", "rwkv7", "ttt"):
                design = load_design(LIBRARY / name)
                did = f"{name}-{i}"
                self.designs[did] = design
                good = any(favoured in f for f in features(design))
                score = 0.6 + 0.01 * i if good else 0.4 + 0.01 * i
                self.recs.append(_Record(did, {"cpu-xs": {"score": score}}, {"ok": True}))

    def records(self) -> list[_Record]:
        return self.recs

    def read_design(self, design_id: str) -> Design:
        return self.designs[design_id]


def _requests(n: int) -> list[DesignRequest]:
    parent = Parent("gpt-1", load_design(LIBRARY / "gpt"))
    return [DesignRequest("mutation", (parent,), seed=1000 + i) for i in range(n)]


def _has(proposal: Any, favoured: str) -> bool:
    assert isinstance(proposal, Proposal)
    return any(favoured in f for f in features(proposal.design))


def test_the_learning_designer_picks_what_its_results_favour_more_often_than_random() -> None:
    favoured = "sequence_mixer:Mamba2"
    repo = _Repo(favoured)
    learning = LearningDesigner(UnitPool.library(), repo, candidates=8, explore=0.0)
    model = learning.surrogate()
    assert model is not None and model.n_scored == 15
    assert model.score({favoured}) > model.score(set())  # it learned the favoured unit
    plain = OfflineDesigner(UnitPool.library())
    requests = _requests(12)
    picked = [learning.design(r) for r in requests]
    chosen = sum(_has(p, favoured) for p in picked)
    random_choice = sum(_has(plain.design(r), favoured) for r in requests)
    assert chosen > random_choice, (chosen, random_choice)
    for request, pick in zip(requests, picked, strict=True):
        # Whenever a candidate is built on the favoured unit, the pick is one of those.
        candidates = learning.candidates_for(request)
        assert isinstance(candidates, list) and pick.design in [c.design for c in candidates]  # type: ignore[union-attr]
        if any(_has(c, favoured) for c in candidates):
            assert _has(pick, favoured)
    assert all("## Chosen" in p.files["proposal.md"] for p in picked)  # type: ignore[union-attr]
    # Same request, same namespace: same design.
    again = LearningDesigner(UnitPool.library(), repo, candidates=8, explore=0.0)
    assert again.design(requests[0]).design == picked[0].design  # type: ignore[union-attr]


def test_the_surrogate_learns_from_the_highest_rung_with_enough_results() -> None:
    repo = _Repo("sequence_mixer:Mamba2")
    # Eight designs also reached cpu-s8, where the order is the other way round.
    for rec in repo.recs[:8]:
        favoured = rec.id.startswith("mamba2")
        rec.rungs["cpu-s8"] = {"score": 0.5 if favoured else 0.7}
    model = LearningDesigner(UnitPool.library(), repo).surrogate()
    assert model is not None and model.n_scored == 8
    assert model.score({"sequence_mixer:Mamba2"}) < model.score(set())
    repo.recs[0].rungs.pop("cpu-s8")  # seven: too few, back to cpu-xs
    model = LearningDesigner(UnitPool.library(), repo).surrogate()
    assert model is not None and model.n_scored == 15


def test_too_few_results_means_no_surrogate_and_the_first_candidate(tmp_path: Path) -> None:
    repo = _Repo("sequence_mixer:Mamba2")
    repo.recs = repo.recs[:5]
    learning = LearningDesigner(UnitPool.library(), repo, explore=0.0)
    assert learning.surrogate() is None
    out = learning.design(_requests(1)[0])
    assert isinstance(out, Proposal) and "explored" in out.files["proposal.md"]


class _Empty:
    def records(self) -> list[_Record]:
        return []


def _examples(run: str, rows: list[tuple[str, float]]) -> list[Example]:
    return [Example(run, f"{f}-{i}", frozenset({f}), {"cpu-s8": score}, True)
            for i, (f, score) in enumerate(rows)]  # fmt: skip


def test_earlier_runs_join_the_fit_each_with_its_own_offset() -> None:
    # In both runs "a" beats "b" by 0.1, but run B scores 0.3 higher (another training seed)
    # and made mostly b's: pooled naively, b looks better; with a feature per run, a does.
    run_a = [("a", 0.6), ("a", 0.6), ("a", 0.6), ("b", 0.5)]
    run_b = [("a", 0.9), ("b", 0.8), ("b", 0.8), ("b", 0.8)]
    prior = _examples("A", run_a) + _examples("B", run_b)
    naive = Surrogate.fit([({f}, s) for f, s in run_a + run_b], [])
    assert naive.score({"b"}) > naive.score({"a"})
    model = LearningDesigner(UnitPool.library(), _Empty(), prior=prior).surrogate()
    assert model is not None and model.n_scored == 8
    assert model.score({"a"}) > model.score({"b"})  # (shrunk by the ridge below 0.1)
    # seven prior results at cpu-s8 and none of its own: too few to rank anything
    assert LearningDesigner(UnitPool.library(), _Empty(), prior=prior[:7]).surrogate() is None


def test_a_learning_designer_named_with_earlier_runs_ranks_from_its_first_design(
    tmp_path: Path,
) -> None:
    from genesys_tui.errors import ConfigError
    from genesys_tui.evolve.designers import make_designer
    from genesys_tui.results import RungResult
    from genesys_tui.store import DesignsRepo
    from genesys_tui.store.library import import_library

    favoured = "sequence_mixer:Mamba2"
    with DesignsRepo.create(tmp_path / "earlier", seeds=False) as repo:
        import_library(repo, [LIBRARY / n for n in ("gpt", "mamba2", "retnet", "rwkv7", "ttt")])
        gpt = next(r.id for r in repo.records() if r.name == "gpt")
        files = {str(p.relative_to(LIBRARY / "gpt")): p.read_text()
                 for p in (LIBRARY / "gpt").rglob("*") if p.is_file()}  # fmt: skip
        for i in range(3):  # eight designs in all
            repo.commit_design({**files, "proposal.md": f"variant {i}\n"}, parents=[gpt],
                               designer="offline", title=f"variant {i}")  # fmt: skip
        for rec in repo.records():
            good = favoured in features(repo.read_design(rec.id))
            note = RungResult(ok=True, scores={"score": 0.7 if good else 0.5 + rec.seq / 100})
            repo.attach(rec.id, "rung:cpu-s8", note.to_note())
    with DesignsRepo.create(tmp_path / "now", seeds=False) as repo:
        plain = make_designer("learning", repo)
        assert isinstance(plain, LearningDesigner) and plain.surrogate() is None
        learning = make_designer("learning:earlier", repo)
        assert isinstance(learning, LearningDesigner)
        model = learning.surrogate()
        assert model is not None and model.n_scored == 8
        assert model.score({favoured}) > model.score(set())
        by_path = make_designer(f"learning:{tmp_path / 'earlier'}", repo)
        assert by_path.prior == learning.prior  # type: ignore[attr-defined]
        with pytest.raises(ConfigError, match="no namespace 'missing'"):
            make_designer("learning:earlier,missing", repo)
