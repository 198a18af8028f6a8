"""The planner's plan, validated against the parents, and its assembly into a design.

A plan starts from a parent's unit tree (``base``), may replace its layer pattern with blocks
of the parents (``layers``) and graft subtrees of other parents into its slots (``graft``),
and lists the units the coder writes (``write``). A unit of a parent other than the base is
named ``<parent id>:<unit id>``. Everything the plan does not write stays exactly as the parent
has it; for a mutation the plan must write exactly the one unit the proposal chose, so every
other unit is protected. ``Assembly`` applies the plan to a ``DesignDraft`` once, and then
turns the coder's files into a validated ``Design`` as often as the coder revises them.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from genesys_tui.agents.replies import ReplyError, check_role, is_identifier
from genesys_tui.design import Design
from genesys_tui.designer import DesignRequest
from genesys_tui.draft import DesignDraft

_PLAN_FIELDS = {"base", "layers", "graft", "write", "root"}
_TASK_FIELDS = {"id", "class", "role", "children", "args", "spec"}


@dataclass(frozen=True)
class UnitTask:
    """One unit the coder writes."""

    id: str  # its id in the design (an existing id: the unit it replaces)
    cls: str
    role: str
    children: Mapping[str, str]  # slot -> unit id (resolved in the draft)
    args: Mapping[str, Any]
    spec: str
    file: str  # units/<snake_case>.py, chosen so that no protected file is overwritten
    replaces: bool  # True when it takes the place of an existing unit


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


class Assembly:
    """A validated plan applied to the parents' trees; ``build`` adds the coder's files."""

    def __init__(self, data: Mapping[str, Any], request: DesignRequest, unit: str | None) -> None:
        """Validate the plan ``data`` for ``request``; ``unit``: the unit a mutation changes.

        Raises ReplyError, with what to fix, for a plan that cannot be applied.
        """
        self.request = request
        self.parents = {p.id: DesignDraft.from_design(p.design) for p in request.parents}
        designs = {p.id: p.design for p in request.parents}
        self._names: dict[tuple[str, str], str] = {}
        unknown = sorted(set(data) - _PLAN_FIELDS)
        if unknown:
            raise ReplyError(f"unknown plan field(s) {unknown}; allowed: {sorted(_PLAN_FIELDS)}")
        base = data.get("base")
        if request.kind == "scratch":
            if base is not None or data.get("layers") or data.get("graft"):
                raise ReplyError("a scratch design has no parents: write every unit, no base")
            self.base: str | None = None
            self.draft = DesignDraft(name="draft", roots=[], units={}, sources={})
        else:
            if base not in self.parents:
                raise ReplyError(f'"base" must be one of the parents {sorted(self.parents)}')
            self.base = base
            self.draft = DesignDraft.from_design(designs[base])
        if request.kind != "crossover" and (data.get("layers") or data.get("graft")):
            raise ReplyError('"layers" and "graft" recombine parents: only a crossover has them')
        self._apply_layers(data.get("layers") or [])
        self._apply_grafts(data.get("graft") or [])
        self.tasks = self._tasks(data.get("write"), request.kind)
        if request.kind == "mutation" and (len(self.tasks) != 1 or self.tasks[0].id != unit):
            raise ReplyError(
                f"a mutation writes exactly one unit, the one the proposal chose ({unit!r}); "
                f"the plan writes {[t.id for t in self.tasks]}"
            )
        if request.kind == "crossover" and not (data.get("layers") or data.get("graft")):
            raise ReplyError(
                'a crossover must reuse units of the other parent: "layers" or "graft"'
            )
        self.roots = self._roots(data.get("root"))
        self.protected = self._protected()

    # ---------------------------------------------------------------- resolving names

    def _copy(self, parent: str, uid: str) -> str:
        """Copy ``parent``'s subtree at ``uid`` into the draft; remember every new id."""
        other = self.parents.get(parent)
        if other is None:
            raise ReplyError(f"{parent!r} is not a parent; parents: {sorted(self.parents)}")
        if uid not in other.units:
            raise ReplyError(f"{parent} has no unit {uid!r}; its units: {sorted(other.units)}")
        new = self.draft.copy_in(other, uid)
        for old_id, new_id in zip(other.subtree(uid), self.draft.subtree(new), strict=True):
            self._names[(parent, old_id)] = new_id
        return new

    def resolve(self, ref: Any, where: str) -> str:
        """A unit id of the draft from a plan reference (``id`` or ``parent:id``)."""
        if not isinstance(ref, str):
            raise ReplyError(f"{where}: expected a unit id, got {ref!r}")
        parent, sep, uid = ref.rpartition(":")
        if sep and parent != self.base:
            if (parent, uid) not in self._names:
                self._copy(parent, uid)
            return self._names[(parent, uid)]
        return uid if sep else ref

    # ---------------------------------------------------------------- plan parts

    def _apply_layers(self, layers: Any) -> None:
        if not layers:
            return
        if not isinstance(layers, list):
            raise ReplyError('"layers" must be a list of {"from": parent id, "unit": block id}')
        roots = []
        for i, entry in enumerate(layers):
            if not isinstance(entry, dict) or set(entry) != {"from", "unit"}:
                raise ReplyError(f'layers[{i}] must be {{"from": parent id, "unit": block id}}')
            if entry["from"] == self.base and entry["unit"] in self.draft.units:
                uid = entry["unit"]
            else:
                uid = self._copy(entry["from"], entry["unit"])
            if self.draft.units[uid]["role"] != "block":
                raise ReplyError(f"layers[{i}]: {entry['unit']!r} is not a block")
            if uid in roots:
                raise ReplyError(f"layers[{i}]: each layer entry must name a different block")
            roots.append(uid)
        self.draft.roots = roots
        self.draft.finish()  # drops the base's blocks the pattern left out

    def _apply_grafts(self, grafts: Any) -> None:
        if not isinstance(grafts, list):
            raise ReplyError('"graft" must be a list of {"at", "from", "unit"} objects')
        for i, entry in enumerate(grafts):
            if not isinstance(entry, dict) or set(entry) != {"at", "from", "unit"}:
                raise ReplyError(f'graft[{i}] must be {{"at": id, "from": parent id, "unit": id}}')
            at = self.resolve(entry["at"], f"graft[{i}].at")
            if at not in self.draft.units:
                raise ReplyError(f"graft[{i}].at: no unit {at!r} in the design being built")
            donor = self._copy(entry["from"], entry["unit"])
            want, got = self.draft.units[at]["role"], self.draft.units[donor]["role"]
            if want != got:
                raise ReplyError(f"graft[{i}]: {entry['unit']!r} is a {got}, {at!r} a {want}")
            self.draft.replace(at, donor)

    def _tasks(self, write: Any, kind: str) -> list[UnitTask]:
        if not isinstance(write, list) or (kind != "crossover" and not write):
            raise ReplyError('"write" must list the units the coder writes (at least one)')
        raw = []
        for i, entry in enumerate(write):
            where = f"write[{i}]"
            if not isinstance(entry, dict):
                raise ReplyError(f"{where} must be an object")
            unknown = sorted(set(entry) - _TASK_FIELDS)
            if unknown:
                raise ReplyError(
                    f"{where}: unknown field(s) {unknown}; allowed {sorted(_TASK_FIELDS)}"
                )
            uid = self.resolve(entry.get("id"), f"{where}.id")
            if not is_identifier(uid):
                raise ReplyError(f"{where}.id {uid!r} must be a Python-style identifier")
            cls = entry.get("class")
            if not isinstance(cls, str) or not is_identifier(cls) or not cls[0].isupper():
                raise ReplyError(f"{where}.class must be a PascalCase class name, got {cls!r}")
            role = check_role(entry.get("role"), f"{where}.role")
            if uid in self.draft.units and self.draft.units[uid]["role"] != role:
                raise ReplyError(
                    f"{where}: {uid!r} is a {self.draft.units[uid]['role']}; the unit replacing "
                    f"it must keep that role, not {role}"
                )
            args = entry.get("args") or {}
            children = entry.get("children") or {}
            spec = entry.get("spec")
            if not isinstance(args, dict) or not isinstance(children, dict):
                raise ReplyError(f"{where}: args and children must be JSON objects")
            if not isinstance(spec, str) or len(spec.strip()) < 20:
                raise ReplyError(f"{where}.spec must say in words what the unit computes")
            raw.append((uid, cls, role, children, args, spec.strip(), where))
        ids = [r[0] for r in raw]
        if len(set(ids)) != len(ids):
            raise ReplyError("each written unit needs its own id")
        replaced = {uid for uid in ids if uid in self.draft.units}
        # A written unit may adopt units from the subtrees it replaces, or other written ones.
        free = set(ids)
        for uid in replaced:
            free |= set(self.draft.subtree(uid))
        taken: set[str] = set()
        tasks = []
        for uid, cls, role, children, args, spec, where in raw:
            resolved = {}
            for slot, ref in children.items():
                child = self.resolve(ref, f"{where}.children.{slot}")
                if child not in free or child == uid or child in taken:
                    raise ReplyError(
                        f"{where}.children.{slot}: {ref!r} cannot be a child here; a written "
                        "unit's children are other written units, or units below the unit it "
                        "replaces, each used once"
                    )
                taken.add(child)
                resolved[str(slot)] = child
            tasks.append(UnitTask(uid, cls, role, resolved, dict(args), spec, "", uid in replaced))
        return self._with_files(tasks)

    def _with_files(self, tasks: list[UnitTask]) -> list[UnitTask]:
        """Give each task a file that no unit staying in the design uses."""
        written = {t.id: t for t in tasks}
        stack, kept = list(self.draft.roots), set()
        while stack:
            uid = stack.pop()
            if uid in kept:
                continue
            kept.add(uid)
            node = written[uid].children if uid in written else self.draft.units[uid]["children"]
            stack.extend(node.values())
        used = {self.draft.units[u]["file"] for u in kept - set(written) if u in self.draft.units}
        out = []
        for task in tasks:
            stem, n, rel = snake(task.cls), 2, f"units/{snake(task.cls)}.py"
            while rel in used:
                rel, n = f"units/{stem}_{n}.py", n + 1
            used.add(rel)
            out.append(dataclasses.replace(task, file=rel))
        return out

    def _roots(self, root: Any) -> list[str]:
        if self.request.kind != "scratch":
            return list(self.draft.roots)
        roots = [root] if isinstance(root, str) else root
        written = {t.id: t for t in self.tasks}
        if not isinstance(roots, list) or not roots or any(r not in written for r in roots):
            raise ReplyError('"root" must name a written block unit (or a list of them)')
        if any(written[r].role != "block" for r in roots):
            raise ReplyError('"root" must name units of role "block"')
        return roots

    def _protected(self) -> dict[str, dict[str, Any]]:
        """Units outside every replaced subtree: they must come out unchanged."""
        inside: set[str] = set()
        for task in self.tasks:
            if task.replaces:
                inside |= set(self.draft.subtree(task.id))
        return {
            uid: copy.deepcopy(node) for uid, node in self.draft.units.items() if uid not in inside
        }

    # ---------------------------------------------------------------- assembly

    def build(self, name: str, files: Mapping[str, str]) -> Design:
        """The design with the coder's ``files`` (unit id -> source); raises DesignError."""
        draft = copy.deepcopy(self.draft)
        draft.name = name
        for task in self.tasks:
            draft.sources[task.file] = files[task.id]
            draft.units[task.id] = {
                "class": task.cls,
                "file": task.file,
                "role": task.role,
                "args": dict(task.args),
                "children": dict(task.children),
            }
        draft.roots = list(self.roots)
        design = draft.finish()
        for uid, node in self.protected.items():
            now = design.units.get(uid)
            if (
                now is None
                or (now.cls, now.file, dict(now.children))
                != (node["class"], node["file"], node["children"])
                or design.sources[now.file] != self.draft.sources[node["file"]]
            ):
                raise RuntimeError(f"protected unit {uid!r} changed while assembling the design")
        return design

    def task_of_file(self, rel: str | None) -> UnitTask | None:
        return next((t for t in self.tasks if rel is not None and t.file == rel), None)
