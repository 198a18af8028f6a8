"""Leaderboard rows from design records: what each design has shown on the ladder.

A rung counts as passed when its result holds scores (a failed verification attaches an empty
set). Bits per byte and evaluation accuracy are read at the highest rung passed, evaluation
being the mean of the ``eval/*`` metrics there. Fitness is the loop's, as recorded.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

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


def row_of(record: DesignRecord, rungs: Sequence[str]) -> BoardRow:
    passed = [r for r in rungs if record.rungs.get(r)]
    top = record.rungs.get(passed[-1], {}) if passed else {}
    evals = [v for k, v in top.items() if k.startswith("eval/") and math.isfinite(v)]
    status = "seed" if record.origin == "seed" else record.status
    words = [record.id, record.name, record.designer, record.title, status, record.status]
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
