"""The learning designer (``--designer learning``): the offline designer with a memory.

For each request it makes several candidate edits with the offline designer's typed operations
(no LLM, no network), then proposes the one a surrogate fit on the namespace's own results
ranks highest. The surrogate reads every design the namespace holds:

- its features are the units it is built from, as ``role:class`` (``sequence_mixer:Mamba2``);
- a ridge regression of a rung's score on those features predicts a candidate's score (the
  highest rung with at least ``MIN_RESULTS`` scores: the fewest results among those rungs);
- each feature's rejection rate by the checker (Laplace-smoothed) estimates how likely the
  candidate is to be rejected; the ranking subtracts that risk times the spread of scores, so
  an edit the checker keeps rejecting is weighted down.

With probability ``explore`` (and while fewer than ``MIN_RESULTS`` designs have a score) it
proposes the first candidate, as the plain offline designer would: the surrogate learns only
from what it is shown. Same request seed and same namespace state: same design.

``--designer learning:NS[,NS...]`` also learns from earlier runs (``prior``): their designs
join the fit, each run with a feature of its own (``run:NS``), so the fit absorbs the runs'
offsets (another training seed moves every score of a run) and ranks on what the units do. A
run on a slow ladder then ranks its candidates from its first design instead of exploring until
its own first results arrive.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from genesys_tui.design import Design
from genesys_tui.designer import DesignFailure, DesignRequest, DialogueSink, Proposal
from genesys_tui.evolve.offline import OfflineDesigner
from genesys_tui.evolve.pool import UnitPool

#: Candidate edits made per request, and the share of requests answered without the surrogate.
CANDIDATES = 8
EXPLORE = 0.2
#: Designs with a score before the surrogate is trusted to rank anything.
MIN_RESULTS = 8
#: Ridge penalty, in units of the number of designs seen.
RIDGE = 1.0


def features(design: Design) -> set[str]:
    """What a design is built from: ``role:class`` of each of its units."""
    return {f"{unit.role}:{unit.cls}" for unit in design.units.values()}


@dataclasses.dataclass(frozen=True)
class Surrogate:
    """Predicted score and rejection risk of a design from its features."""

    weights: dict[str, float]  # feature -> ridge coefficient
    intercept: float
    reject_rates: dict[str, float]  # feature -> smoothed share of its designs rejected
    base_reject: float  # share of all checked designs rejected
    spread: float  # standard deviation of the scores it was fit on
    n_scored: int

    @classmethod
    def fit(cls, scored: Sequence[tuple[set[str], float]],
            checked: Sequence[tuple[set[str], bool]]) -> Surrogate:  # fmt: skip
        """``scored``: (features, score) of verified designs; ``checked``: (features, passed)
        of every checked design."""
        import numpy as np

        names = tuple(sorted({f for feats, _ in scored for f in feats}))
        index = {name: i for i, name in enumerate(names)}
        y = np.array([s for _, s in scored], dtype=float)
        mean = float(y.mean()) if len(y) else 0.0
        weights: dict[str, float] = {}
        if names and len(y):
            x = np.zeros((len(scored), len(names)))
            for row, (feats, _) in enumerate(scored):
                for f in feats:
                    x[row, index[f]] = 1.0
            x_mean = x.mean(axis=0)
            xc = x - x_mean
            w = np.linalg.solve(xc.T @ xc + RIDGE * np.eye(len(names)), xc.T @ (y - mean))
            weights = {name: float(v) for name, v in zip(names, w, strict=True)}
            mean -= float(x_mean @ w)
        rejected = [not ok for _, ok in checked]
        base = (sum(rejected) + 1) / (len(rejected) + 2)
        seen: Counter[str] = Counter()
        bad: Counter[str] = Counter()
        for feats, ok in checked:
            seen.update(feats)
            bad.update(feats if not ok else ())
        # Smoothed toward the base rate with the weight of two designs.
        rates = {f: (bad[f] + 2 * base) / (seen[f] + 2) for f in seen}
        spread = float(y.std()) if len(y) > 1 else 0.0
        return cls(weights, mean, rates, base, spread, len(y))

    def score(self, feats: Iterable[str]) -> float:
        """Predicted score (unknown features add nothing)."""
        return self.intercept + sum(self.weights.get(f, 0.0) for f in feats)

    def reject_risk(self, feats: Iterable[str]) -> float:
        """The highest rejection rate among the design's features (the base rate if none)."""
        return max((self.reject_rates.get(f, self.base_reject) for f in feats),
                   default=self.base_reject)  # fmt: skip

    def value(self, feats: set[str]) -> float:
        """What the ranking maximises: predicted score less the rejection risk in score units."""
        return self.score(feats) - self.reject_risk(feats) * max(self.spread, 1e-6)


@dataclasses.dataclass(frozen=True)
class Example:
    """One design as the surrogate learns from it."""

    run: str  # the namespace it was made in
    design: str  # its id there
    features: frozenset[str]
    scores: dict[str, float]  # rung -> score
    passed: bool | None  # the checker's verdict; None: not checked


def read_examples(repo: Any, run: str,
                  features_of: Callable[[str], set[str] | None] | None = None
                  ) -> list[Example]:  # fmt: skip
    """Every design of ``repo`` that was checked or scored and reads, as an ``Example`` of
    ``run``; ``features_of(design_id)`` (features or None) reads a design, by default from
    ``repo``."""

    def read(design_id: str) -> set[str] | None:
        try:
            return features(repo.read_design(design_id))
        except Exception:  # a design that does not read teaches nothing
            return None

    out = []
    for rec in repo.records():
        scores = {r: float(m["score"]) for r, m in rec.rungs.items() if "score" in m}
        if rec.check is None and not scores:
            continue
        feats = (features_of or read)(rec.id)
        if feats is not None:
            passed = None if rec.check is None else bool(rec.check.get("ok"))
            out.append(Example(run, rec.id, frozenset(feats), scores, passed))
    return out


def fit_examples(examples: Sequence[Example], rung: str) -> Surrogate:
    """The surrogate of ``examples``' scores at ``rung`` and of all their checker verdicts.
    Each run's own feature (``run:NS``) takes up its offset; with one run it is constant and
    weighs 0."""
    scored = [(set(e.features) | {f"run:{e.run}"}, e.scores[rung])
              for e in examples if rung in e.scores]  # fmt: skip
    checked = [(set(e.features), e.passed) for e in examples if e.passed is not None]
    return Surrogate.fit(scored, checked)


def read_prior(root: Path, names: Sequence[str]) -> list[Example]:
    """The examples of the earlier runs ``names`` (namespaces under ``root``, or paths), read
    once; ConfigError in one line for a run that is not there."""
    from genesys_tui.errors import ConfigError
    from genesys_tui.store import DesignsRepo

    out: list[Example] = []
    for name in names:
        path = Path(name) if "/" in name else root / name
        if not (path / ".git").is_dir():
            raise ConfigError(f"learning:{name}: no namespace {name!r} at {path}")
        with DesignsRepo.open(path) as repo:
            out.extend(read_examples(repo, path.name))
    return out


class LearningDesigner:
    """``OfflineDesigner`` candidates ranked by a ``Surrogate`` of the namespace's results
    (and of the ``prior`` runs' examples)."""

    name = "offline-learning"

    def __init__(self, pool: UnitPool, repo: Any, candidates: int = CANDIDATES,
                 explore: float = EXPLORE, prior: Sequence[Example] = ()) -> None:  # fmt: skip
        self.base = OfflineDesigner(pool)
        self.pool = pool  # the loop adds checked designs' units to it (``pool.add``)
        self.repo = repo
        self.candidates = candidates
        self.explore = explore
        self.prior = tuple(prior)
        self._features: dict[str, set[str] | None] = {}  # design id -> features (never change)
        self._lock = threading.Lock()

    def surrogate(self) -> Surrogate | None:
        """Fit on the namespace as it is now and the prior runs; None while fewer than
        MIN_RESULTS have a score at any rung."""
        examples = [*self.prior, *read_examples(self.repo, "", self._design_features)]
        counts: Counter[str] = Counter(r for e in examples for r in e.scores)
        enough = [r for r, n in counts.items() if n >= MIN_RESULTS]
        if not enough:
            return None
        # The rung with the fewest results among those with enough: the highest rung the
        # namespaces have data for, whose ranking holds up best at the rungs above it (cpu-xs
        # ranks designs unlike cpu-s; cpu-s8 much like it: README, "Ladder fidelity").
        first = min(enough, key=lambda r: (counts[r], r))
        return fit_examples(examples, first)

    def _design_features(self, design_id: str) -> set[str] | None:
        with self._lock:
            if design_id in self._features:
                return self._features[design_id]
        try:
            feats: set[str] | None = features(self.repo.read_design(design_id))
        except Exception:  # a design that does not read teaches nothing
            feats = None
        with self._lock:
            self._features[design_id] = feats
        return feats

    def candidates_for(self, request: DesignRequest) -> list[Proposal] | DesignFailure:
        """The offline designer's answers to ``candidates`` requests derived from this one,
        each new to the parents, the siblings and the candidates before it."""
        rng = random.Random(request.seed)
        made: list[Proposal] = []
        failure: DesignFailure | None = None
        for _ in range(self.candidates):
            siblings = request.siblings + tuple(p.design for p in made)
            sub = dataclasses.replace(request, seed=rng.getrandbits(63), siblings=siblings)
            out = self.base.design(sub)
            if isinstance(out, Proposal):
                made.append(out)
            else:
                failure = out
        return made or failure or DesignFailure("the learning designer made no candidate")

    def design(self, request: DesignRequest, say: DialogueSink | None = None
               ) -> Proposal | DesignFailure:  # fmt: skip
        made = self.candidates_for(request)
        if isinstance(made, DesignFailure):
            return made
        model = self.surrogate()
        if model is None or random.Random(f"{request.seed}-explore").random() < self.explore:
            pick, why = made[0], "explored: the first candidate, unranked"
        else:
            values = [model.value(features(p.design)) for p in made]
            best = max(range(len(made)), key=lambda i: values[i])
            pick = made[best]
            why = (f"ranked {len(made)} candidates by a surrogate of {model.n_scored} results: "
                   f"chose {best + 1} (value {values[best]:+.4f}, range "
                   f"{min(values):+.4f} to {max(values):+.4f})")  # fmt: skip
        if say is not None:
            say("designer", f"{pick.title}\n{why}")
        files = dict(pick.files)
        files["proposal.md"] = files.get("proposal.md", "").rstrip() + f"\n\n## Chosen\n\n{why}.\n"
        return dataclasses.replace(pick, files=files)
