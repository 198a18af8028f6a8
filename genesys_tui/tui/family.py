"""The family tree of a namespace as a forest a tree widget can show.

Git's history is a graph (a crossover has two parents); a tree widget shows a forest. Each
design sits under its first parent with its descendants; under each further parent it appears
as a link leaf that names the first parent, so a crossover is visible from both sides and its
subtree is drawn once. A design whose parents are unknown (not in the listing) is a root.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from genesys_tui.store.records import DesignRecord


@dataclass(frozen=True)
class Placement:
    """Where a design is shown: ``parent`` None for a root; ``link`` for a further parent."""

    design: str
    parent: str | None
    link: bool = False


@dataclass
class Family:
    roots: list[str] = field(default_factory=list)
    children: dict[str, list[Placement]] = field(default_factory=dict)  # parent -> placements
    depth: dict[str, int] = field(default_factory=dict)  # design -> depth under its first parent

    def add(self, record: DesignRecord) -> list[Placement]:
        """Place one design (its parents placed before it); return its placements."""
        known = [p for p in record.parents if p in self.depth]
        if not known:
            self.roots.append(record.id)
            self.depth[record.id] = 0
            return [Placement(record.id, None)]
        out = [Placement(record.id, known[0])]
        out += [Placement(record.id, p, link=True) for p in known[1:]]
        for placement in out:
            self.children.setdefault(placement.parent or "", []).append(placement)
        self.depth[record.id] = self.depth[known[0]] + 1
        return out

    def __contains__(self, design: str) -> bool:
        return design in self.depth


def family(records: Iterable[DesignRecord]) -> Family:
    """The forest of ``records`` (in commit order: a parent always comes before its child)."""
    out = Family()
    for record in sorted(records, key=lambda r: r.seq):
        out.add(record)
    return out


def lineage(records: dict[str, DesignRecord], design: str) -> list[str]:
    """``design`` and its first-parent ancestors, root first (the path a tree expands)."""
    path = [design]
    seen = {design}
    while True:
        record = records.get(path[-1])
        parent = next((p for p in record.parents if p in records), None) if record else None
        if parent is None or parent in seen:
            return path[::-1]
        path.append(parent)
        seen.add(parent)
