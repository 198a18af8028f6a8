"""Leaderboard rows and ladder counts from design records: what each design has shown on the
ladder, and how many designs each rung has verified.

A rung counts as passed when its result holds scores (a failed verification attaches an empty
set): ``passed_rungs`` is the one place that says so, for the leaderboard's rungs column and the
ladder's counts alike. Bits per byte and evaluation accuracy are read at the highest rung
passed, evaluation being the mean of the ``eval/*`` metrics there. Fitness is the loop's, as
recorded.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from genesys_tui.evolve.terms import record_terms, why
from genesys_tui.store.records import DesignRecord

#: Status glyphs, one cell wide, for the tree and the leaderboard.
GLYPHS = {
    "seed": "◆",
    "proposed": "◌",
    "checked": "○",
    "verified": "●",
    "rejected": "✗",
    "failed": "!",
}
#: Leaderboard columns: key, header.
COLUMNS = (
    ("status", " "),
    ("design", "design"),
    ("parents", "parents"),
    ("designer", "designer"),
    ("rungs", "rungs"),
    ("bpb", "bpb"),
    ("eval", "eval"),
    ("fitness", "fitness"),
    ("why", "why"),
)


@dataclass(frozen=True)
class BoardRow:
    design: str
    seq: int
    status: str  # the store's status, or "seed" for a library seed
    parents: tuple[str, ...]
    designer: str
    rungs: int  # rungs passed
    bpb: float | None  # bits per byte at the highest rung passed
    evaluation: float | None  # mean evaluation accuracy there
    fitness: float | None
    text: str  # lower-cased words the filter searches
    reason: str = ""  # why it was rejected or failed (or which rung failed), where it was
    why: str = ""  # the fitness terms that add or take the most (evolve.terms.why)

    def sort_key(self, column: str) -> tuple[object, ...]:
        """Ascending key for ``column``; designs without a value sort last either way."""
        value = {
            "status": self.status,
            "design": self.seq,
            "parents": ", ".join(self.parents),
            "designer": self.designer,
            "rungs": self.rungs,
            "bpb": self.bpb,
            "eval": self.evaluation,
            "fitness": self.fitness,
        }[column]
        return (value is None, value if value is not None else 0, self.seq)


def rung_order(records: Iterable[DesignRecord], known: Sequence[str] = ()) -> list[str]:
    """Rung names cheapest first: ``known`` (the ladder) in its order, then any others by how
    many designs reached them, most first (the ladder verifies fewer designs per rung)."""
    counts: dict[str, int] = {}
    for r in records:
        for rung in r.rungs:
            counts[rung] = counts.get(rung, 0) + 1
    extra = sorted((r for r in counts if r not in known), key=lambda r: (-counts[r], r))
    return [*known, *extra]


def passed_rungs(record: DesignRecord, rungs: Sequence[str]) -> list[str]:
    """The rungs of ``rungs`` (in that order) where ``record`` has scores."""
    return [r for r in rungs if record.rungs.get(r)]


def failed_rungs(record: DesignRecord, rungs: Sequence[str]) -> list[str]:
    """The rungs of ``rungs`` whose verification of ``record`` failed (an empty result)."""
    return [r for r in rungs if r in record.rungs and not record.rungs[r]]


@dataclass(frozen=True)
class RungCount:
    """What one rung has verified. Seeds are counted apart: they are the baselines and, as in
    the loop's scheduler, do not use the rung's budget."""

    rung: str
    designs: int = 0  # designs (seeds apart) that passed the rung
    seeds: int = 0  # library seeds that passed it
    failed: int = 0  # designs (seeds apart) whose verification there failed
    failed_seeds: int = 0

    @property
    def passed(self) -> int:
        """Every design with scores at the rung, seeds included (the leaderboard's count)."""
        return self.designs + self.seeds

    @property
    def used(self) -> int:
        """Verifications that used the rung's budget: designs passed or failed, seeds apart."""
        return self.designs + self.failed


def ladder_counts(records: Iterable[DesignRecord], rungs: Sequence[str]) -> dict[str, RungCount]:
    """Per rung of ``rungs``, how many designs passed or failed it (see ``RungCount``)."""
    counts = {r: [0, 0, 0, 0] for r in rungs}
    for record in records:
        seed = record.origin == "seed"
        for rung in passed_rungs(record, rungs):
            counts[rung][1 if seed else 0] += 1
        for rung in failed_rungs(record, rungs):
            counts[rung][3 if seed else 2] += 1
    return {r: RungCount(r, *c) for r, c in counts.items()}


def shown_status(record: DesignRecord) -> str:
    """The status a view shows: "seed" for a library seed, unless it was rejected or failed
    (a seed that fails is news, not a baseline), else the store's status."""
    if record.origin == "seed" and record.status not in ("rejected", "failed"):
        return "seed"
    return record.status


def reason_of(record: DesignRecord, rungs: Sequence[str] = ()) -> str:
    """Why a design stopped, in a few words: the store's reason (``check: ...``, ``train:
    ...``), else the rungs whose verification failed, else for a rejected or failed design
    without one, that none was recorded; "" for a design that did not stop."""
    if record.reason:
        return record.reason
    failed = failed_rungs(record, [*rungs, *(r for r in record.rungs if r not in rungs)])
    if failed:
        return f"failed at {', '.join(failed)} (see the inspector)"
    if record.status in ("rejected", "failed"):
        return f"{record.status}; no reason recorded"
    return ""


def row_of(
    record: DesignRecord, rungs: Sequence[str], seeds: Sequence[DesignRecord] = ()
) -> BoardRow:
    """The leaderboard row of ``record``; ``seeds`` (the library seeds' records) give the
    baselines its "why" is measured against."""
    passed = passed_rungs(record, rungs)
    top = record.rungs.get(passed[-1], {}) if passed else {}
    evals = [v for k, v in top.items() if k.startswith("eval/") and math.isfinite(v)]
    status = shown_status(record)
    reason = reason_of(record, rungs)
    words = [record.id, record.name, record.designer, record.title, status, record.status, reason]
    words += record.parents
    return BoardRow(
        design=record.id,
        seq=record.seq,
        status=status,
        parents=record.parents,
        designer=record.designer,
        rungs=len(passed),
        bpb=top.get("bpb"),
        evaluation=sum(evals) / len(evals) if evals else None,
        fitness=record.fitness,
        text=" ".join(words).lower(),
        reason=reason,
        why=why(record_terms(record, seeds)) if passed and record.origin != "seed" else "",
    )


def matches(row: BoardRow, query: str) -> bool:
    """Every word of ``query`` occurs in the row (id, name, designer, title, status, parents);
    ``rungs>=2``-style words compare numbers (``rungs``, ``fitness``, ``bpb``, ``eval``)."""
    for word in query.lower().split():
        for op in (">=", "<=", ">", "<", "="):
            field_, sep, bound = word.partition(op)
            if sep and field_ in ("rungs", "fitness", "bpb", "eval"):
                value = row.evaluation if field_ == "eval" else getattr(row, field_)
                if not _compare(value, op, bound):
                    return False
                break
        else:
            if word not in row.text:
                return False
    return True


def _compare(value: float | None, op: str, bound: str) -> bool:
    try:
        b = float(bound)
    except ValueError:
        return False
    if value is None:
        return False
    return {
        ">=": value >= b,
        "<=": value <= b,
        ">": value > b,
        "<": value < b,
        "=": value == b,
    }[op]


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)
