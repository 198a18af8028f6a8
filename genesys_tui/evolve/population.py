"""The population as the loop sees it, rebuilt from the designs repository alone.

Nothing here is authoritative: the repository (commits and notes) is. On start and on resume the
loop reads every record and its results, and from them knows which designs are checked, which
rungs each has passed or failed, their fitness, and the hashes the novelty gate compares.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from genesys_tui.evolve.schedule import DesignProgress
from genesys_tui.evolve.selection import Candidate
from genesys_tui.results import NoveltyResult, rung_results

#: A design beats a seed only when its score's margin exceeds this many of the rung's sigma
#: (the score's seed-to-seed standard deviation, ``Rung.score_sigma``); inside it is a tie.
ABOVE_NOISE = 2.0


@dataclass(frozen=True)
class SeedMargin:
    """A design's score margin over one library seed at one rung, read against the noise."""

    seed: str
    rung: str
    margin: float  # the design's score minus the seed's
    sigma: float  # the rung's noise; 0: not measured

    @property
    def in_sigma(self) -> float | None:
        return self.margin / self.sigma if self.sigma > 0 else None

    @property
    def verdict(self) -> str:
        """"beats", "loses" or "tie" (inside the noise); "unknown" where no sigma is measured."""
        x = self.in_sigma
        if x is None:
            return "unknown"
        return "beats" if x > ABOVE_NOISE else "loses" if x < -ABOVE_NOISE else "tie"


def format_lead(margins: Sequence[SeedMargin]) -> str:
    """One line on ``margins`` (a design against every seed at one rung): the margin over the
    best seed in sigma, and how many seeds it beats above noise; ties are called ties."""
    if not margins:
        return ""
    best = min(margins, key=lambda m: m.margin)  # the margin over the best seed is the smallest
    x = best.in_sigma
    if x is None:
        return f"{best.margin:+.4f} vs {best.seed} (no sigma)"
    beaten = sum(m.verdict == "beats" for m in margins)
    if best.verdict == "beats":
        return f"beats all {len(margins)} seeds, {x:+.1f}σ"
    if best.verdict == "tie":
        return f"tie with {best.seed} ({x:+.1f}σ), beats {beaten}/{len(margins)}"
    return f"{x:+.1f}σ vs {best.seed}, beats {beaten}/{len(margins)}"


@dataclass
class Member:
    id: str
    seq: int
    parents: tuple[str, ...]
    is_seed: bool
    status: str  # the store's status: proposed, checked, verified, rejected, failed
    structural: str = ""  # structural hash (novelty gate, before checking)
    functional: str = ""  # functional fingerprint (novelty gate, after checking)
    duplicate_of: str = ""
    rung_scores: dict[str, float] = field(default_factory=dict)  # rung -> score at that rung
    rung_metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    rung_seconds: dict[str, float] = field(default_factory=dict)  # rung -> seconds verifying
    failed_rungs: set[str] = field(default_factory=set)
    cost_usd: float = 0.0

    @property
    def checked(self) -> bool:
        return self.status in ("checked", "verified") and not self.duplicate_of


class Population:
    def __init__(self, rungs: Sequence[str], sigmas: Mapping[str, float] | None = None) -> None:
        self.rungs = list(rungs)
        self.sigmas = dict(sigmas or {})  # rung -> the rung score's noise (0 or absent: unknown)
        self.members: dict[str, Member] = {}

    def add(self, member: Member) -> None:
        self.members[member.id] = member

    @property
    def made(self) -> int:
        """Designs the run made (library seeds do not count)."""
        return sum(1 for m in self.members.values() if not m.is_seed)

    @property
    def cost_usd(self) -> float:
        return sum(m.cost_usd for m in self.members.values())

    def find_structural(self, h: str) -> str | None:
        return next((m.id for m in self.members.values() if m.structural == h), None)

    def find_functional(self, h: str, exclude: str) -> str | None:
        return next(
            (
                m.id
                for m in self.members.values()
                if m.functional == h and m.id != exclude and not m.duplicate_of
            ),
            None,
        )

    def progress(self) -> dict[str, DesignProgress]:
        """Verification state of every checked design, for the scheduler."""
        return {
            m.id: DesignProgress(
                m.id,
                m.is_seed,
                dict(m.rung_scores),
                set(m.failed_rungs),
                m.seq,
                dict(m.rung_seconds),
            )
            for m in self.members.values()
            if m.checked
        }

    def baselines(self) -> dict[str, float]:
        """Per rung, the mean score of the library seeds verified there."""
        scores: dict[str, list[float]] = {}
        for m in self.members.values():
            if m.is_seed:
                for rung, score in m.rung_scores.items():
                    scores.setdefault(rung, []).append(score)
        return {rung: sum(v) / len(v) for rung, v in scores.items()}

    def fitness(self, member: Member, baselines: Mapping[str, float] | None = None
                ) -> float | None:  # fmt: skip
        """Mean over passed rungs of the score's margin over the seeds' mean at that rung.

        Scores at different rungs are not comparable (bigger models score higher), margins over
        the same baselines are; a design with no verified rung has no fitness. Pass
        ``baselines()`` when scoring many members, so the seeds are averaged once.
        """
        base = self.baselines() if baselines is None else baselines
        margins = [score - base.get(rung, 0.0) for rung, score in member.rung_scores.items()]
        return sum(margins) / len(margins) if margins else None

    def seed_margins(self, member: Member, rung: str | None = None) -> list[SeedMargin]:
        """``member``'s margin over each library seed verified at ``rung`` (default: the
        highest rung it passed), best seed first; empty for a seed or an unverified design."""
        if member.is_seed or not member.rung_scores:
            return []
        rung = rung or max(member.rung_scores, key=self._rung_order)
        if rung not in member.rung_scores:
            return []
        score, sigma = member.rung_scores[rung], self.sigmas.get(rung, 0.0)
        out = [
            SeedMargin(s.id, rung, score - s.rung_scores[rung], sigma)
            for s in self.members.values()
            if s.is_seed and rung in s.rung_scores
        ]
        return sorted(out, key=lambda m: m.margin)

    def _rung_order(self, rung: str) -> int:
        return self.rungs.index(rung) if rung in self.rungs else -1

    def confidence(self, member: Member) -> float:
        return len(member.rung_scores) / len(self.rungs) if self.rungs else 0.0

    def candidates(self) -> list[Candidate]:
        base = self.baselines()
        return [
            Candidate(m.id, self.fitness(m, base), self.confidence(m), m.is_seed)
            for m in self.members.values()
            if m.checked
        ]

    def children_of(self, parents: Iterable[str]) -> list[str]:
        want = tuple(parents)
        return [m.id for m in self.members.values() if m.parents == want]


def member_from_store(record: Any, results: Mapping[str, Mapping[str, Any]]) -> Member:
    """A Member from a store DesignRecord and its attached results."""
    m = Member(
        id=record.id,
        seq=record.seq,
        parents=tuple(record.parents),
        is_seed=record.origin == "seed",
        status=record.status,
        cost_usd=record.cost_usd,
    )
    if "novelty" in results:
        novelty = NoveltyResult.from_note(results["novelty"])
        m.structural, m.functional = novelty.structural, novelty.functional
        m.duplicate_of = novelty.duplicate_of
    for rung, result in rung_results(results).items():
        m.rung_seconds[rung] = result.seconds
        if result.ok:
            m.rung_scores[rung] = float(result.scores["score"])
            m.rung_metrics[rung] = dict(result.scores)
        else:
            m.failed_rungs.add(rung)
    return m
