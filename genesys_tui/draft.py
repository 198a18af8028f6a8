"""An editable copy of a design's unit tree, for designers that rewrite trees.

A ``DesignDraft`` holds ``design.json``'s units as plain dicts plus the unit sources, offers the
handful of tree edits that mutation and crossover need (copy a subtree in from another design,
replace a slot's subtree, wrap a unit, unwrap it), and turns back into a validated ``Design``
with ``finish()``. Plain data: no torch.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from genesys_tui.design import Design, design_from_dict


@dataclass
class DesignDraft:
    name: str
    roots: list[str]
    units: dict[str, dict[str, Any]]  # id -> {"class", "file", "role", "args", "children"}
    sources: dict[str, str]  # relative unit file -> text
    description: str = ""
    origin: dict[str, str] = field(default_factory=dict)  # unit id -> where it came from

    @classmethod
    def from_design(cls, design: Design) -> DesignDraft:
        data = design.to_dict()
        units = {uid: copy.deepcopy(node) for uid, node in data["units"].items()}
        for node in units.values():
            node.setdefault("args", {})
            node.setdefault("children", {})
        return cls(
            name=design.name,
            roots=list(design.roots),
            units=units,
            sources=dict(design.sources),
            description=design.description,
            origin={uid: design.name for uid in units},
        )

    # ---------------------------------------------------------------- queries

    def parent_of(self, uid: str) -> tuple[str, str] | None:
        """(parent id, slot) of ``uid``, or None for a root."""
        for pid, node in self.units.items():
            for slot, child in node["children"].items():
                if child == uid:
                    return pid, slot
        return None

    def subtree(self, uid: str) -> list[str]:
        """``uid`` and everything under it, parents before children."""
        out, stack = [], [uid]
        while stack:
            cur = stack.pop()
            out.append(cur)
            stack.extend(reversed(list(self.units[cur]["children"].values())))
        return out

    def ids_with_role(self, role: str) -> list[str]:
        return sorted(uid for uid, node in self.units.items() if node["role"] == role)

    # ---------------------------------------------------------------- edits

    def _fresh_id(self, base: str) -> str:
        stem = re.sub(r"_\d+$", "", base)
        if base not in self.units:
            return base
        n = 2
        while f"{stem}_{n}" in self.units:
            n += 1
        return f"{stem}_{n}"

    def _adopt_file(self, rel: str, text: str) -> str:
        """Add a unit file, reusing an identical one and renaming on a clash."""
        for existing, existing_text in self.sources.items():
            if existing_text == text:
                return existing
        path = PurePosixPath(rel)
        candidate, n = rel, 2
        while candidate in self.sources:
            candidate = str(path.with_name(f"{path.stem}_{n}{path.suffix}"))
            n += 1
        self.sources[candidate] = text
        return candidate

    def copy_in(self, other: DesignDraft, uid: str) -> str:
        """Copy ``other``'s subtree at ``uid`` into this draft (fresh ids); return its new root."""
        mapping: dict[str, str] = {}
        for old in other.subtree(uid):
            mapping[old] = self._fresh_id(old)
            self.units[mapping[old]] = {}  # reserve the id
        for old, new in mapping.items():
            node = copy.deepcopy(other.units[old])
            node["file"] = self._adopt_file(node["file"], other.sources[node["file"]])
            node["children"] = {s: mapping[c] for s, c in node["children"].items()}
            self.units[new] = node
            self.origin[new] = other.origin.get(old, other.name)
        return mapping[uid]

    def set_child(self, parent: str, slot: str, new_child: str) -> None:
        """Point ``parent.slot`` at ``new_child`` and drop the subtree it replaces."""
        self.units[parent]["children"][slot] = new_child
        self._drop_unreachable()

    def replace(self, uid: str, new_uid: str) -> None:
        """Put the (already present) subtree ``new_uid`` where ``uid`` stands."""
        where = self.parent_of(uid)
        if where is None:
            self.roots = [new_uid if r == uid else r for r in self.roots]
        else:
            self.units[where[0]]["children"][where[1]] = new_uid
        self._drop_unreachable()

    def wrap(self, uid: str, wrapper: dict[str, Any], wrapper_source: str, slot: str) -> str:
        """Insert ``wrapper`` (a unit dict without children) above ``uid``, in its ``slot``."""
        new = self._fresh_id(PurePosixPath(wrapper["file"]).stem)
        node = copy.deepcopy(wrapper)
        node["file"] = self._adopt_file(wrapper["file"], wrapper_source)
        node.setdefault("args", {})
        node["children"] = {slot: uid}
        where = self.parent_of(uid)
        self.units[new] = node
        self.origin[new] = "modifiers"
        if where is None:
            self.roots = [new if r == uid else r for r in self.roots]
        else:
            self.units[where[0]]["children"][where[1]] = new
        return new

    def unwrap(self, uid: str, slot: str) -> str:
        """Remove the wrapper ``uid``, putting its ``slot`` child where it stood."""
        inner = self.units[uid]["children"][slot]
        self.units[uid]["children"] = {}
        self.replace(uid, inner)
        return inner

    def _drop_unreachable(self) -> None:
        reachable: set[str] = set()
        for r in self.roots:
            reachable.update(self.subtree(r))
        for uid in list(self.units):
            if uid not in reachable:
                del self.units[uid]
                self.origin.pop(uid, None)
        used = {node["file"] for node in self.units.values()}
        self.sources = {rel: text for rel, text in self.sources.items() if rel in used}

    # ---------------------------------------------------------------- output

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"format": 1, "name": self.name}
        data["root"] = self.roots[0] if len(self.roots) == 1 else list(self.roots)
        if self.description:
            data["description"] = self.description
        data["units"] = self.units
        return data

    def finish(self) -> Design:
        """Validate and return the design (raises DesignError if an edit broke it)."""
        self._drop_unreachable()
        return design_from_dict(copy.deepcopy(self.to_dict()), dict(self.sources))


def subtree_hash(design: Design, uid: str) -> str:
    """A hash of what the subtree at ``uid`` computes, blind to unit ids and file names.

    Equal when the subtrees have the same shape, each unit the same class and source text, and
    the same argument values (defaults filled in).
    """
    return hashlib.sha256(json.dumps(_canon(design, uid), default=str).encode()).hexdigest()


def structural_hash(design: Design) -> str:
    """``subtree_hash`` over the whole layer pattern; the design's name does not count."""
    blob = json.dumps([_canon(design, r) for r in design.roots], default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _canon(design: Design, uid: str) -> list[Any]:
    node = design.units[uid]
    decl = design.decls[uid]
    args = {k: node.args.get(k, a.default) for k, a in sorted(decl.args.items())}
    src = hashlib.sha256(design.sources[node.file].encode()).hexdigest()
    kids = [[slot, _canon(design, child)] for slot, child in sorted(node.children.items())]
    return [node.cls, src, args, kids]
