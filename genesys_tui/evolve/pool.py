"""The pool of units the offline designer recombines: every subtree of the library designs and
of designs that passed the checker, grouped by role, plus the modifier units it may insert."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from genesys_tui.design import Design, load_design, read_unit_declarations
from genesys_tui.draft import DesignDraft, subtree_hash
from genesys_tui.parsing import parse

MODIFIERS_DIR = Path(__file__).resolve().parent / "modifiers"


@dataclass(frozen=True)
class PoolEntry:
    """A subtree that can fill a slot of its role."""

    role: str
    cls: str  # class of the subtree's root unit
    origin: str  # the design it comes from
    summary: str  # first line of the unit's docstring: what it is, in words
    hash: str  # subtree_hash: entries with equal hashes compute the same thing
    draft: DesignDraft  # the origin design, to copy the subtree from
    uid: str  # the subtree's root id in ``draft``


@dataclass(frozen=True)
class Modifier:
    """A wrapper unit with one slot, ``inner``, of the same role as itself."""

    cls: str
    file: str
    role: str
    source: str
    summary: str

    def unit(self) -> dict[str, object]:
        return {"class": self.cls, "file": f"units/{self.file}", "role": self.role, "args": {}}


def docstring_summary(source: str, cls: str) -> str:
    """The first line of the class docstring, else of the module docstring, else the class."""
    try:
        tree = parse(source)
    except SyntaxError:
        return cls
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == cls:
            doc = ast.get_docstring(node)
            if doc:
                return doc.strip().splitlines()[0]
    doc = ast.get_docstring(tree)
    return doc.strip().splitlines()[0] if doc else cls


class UnitPool:
    """Pool entries by role; ``add`` a design to make its subtrees available."""

    def __init__(self) -> None:
        self.by_role: dict[str, list[PoolEntry]] = {}
        self._seen: set[str] = set()
        self.modifiers: list[Modifier] = load_modifiers()

    @classmethod
    def from_designs(cls, designs: list[Design]) -> UnitPool:
        pool = cls()
        for d in designs:
            pool.add(d)
        return pool

    @classmethod
    def library(cls) -> UnitPool:
        from genesys_tui.resources import library_designs

        return cls.from_designs([load_design(p) for p in library_designs()])

    def add(self, design: Design) -> None:
        draft = DesignDraft.from_design(design)
        for uid, node in design.units.items():
            h = subtree_hash(design, uid)
            if h in self._seen:
                continue
            self._seen.add(h)
            summary = docstring_summary(design.sources[node.file], node.cls)
            entry = PoolEntry(node.role, node.cls, design.name, summary, h, draft, uid)
            self.by_role.setdefault(node.role, []).append(entry)

    def of_role(self, role: str) -> list[PoolEntry]:
        return list(self.by_role.get(role, []))

    def modifiers_for(self, role: str) -> list[Modifier]:
        return [m for m in self.modifiers if m.role == role]

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_role.values())


def load_modifiers() -> list[Modifier]:
    out = []
    for path in sorted(MODIFIERS_DIR.glob("*.py")):
        source = path.read_text(encoding="utf-8")
        for name, decl in read_unit_declarations(source, str(path)).items():
            if list(decl.slots.values()) == [decl.role] and "inner" in decl.slots:
                out.append(
                    Modifier(name, path.name, decl.role, source, docstring_summary(source, name))
                )
    return out
