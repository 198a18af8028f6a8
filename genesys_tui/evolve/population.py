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
    def __init__(self, rungs: Sequence[str]) -> None:
        self.rungs = list(rungs)
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
