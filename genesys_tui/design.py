"""A design: ``design.json`` plus the unit sources it names. Plain data: no torch, no textual.

A design directory holds::

    design.json     {"format": 1, "name", "root", "units": {id: {class, file, role, args,
                    children}}}
    units/*.py      one Unit class per file
    proposal.md     why this design (optional here; the store and agents add it)

Loading validates everything that can be known without running code: the unit files exist
and parse, each names the class ``design.json`` says, roles and slots match the class's own
declarations (read from its source with ``ast``, never executed), argument values are in their
declared ranges, the units form a tree, and no unknown field is silently dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from genesys_tui.declarations import ROLES, Arg, UnitDecl, read_unit_declarations
from genesys_tui.errors import DesignError

__all__ = [
    "DESIGN_FILE", "FORMAT_VERSION", "ROLES", "Arg", "Design", "UnitDecl", "UnitNode",
    "design_from_dict", "load_design", "read_unit_declarations",
]  # fmt: skip

FORMAT_VERSION = 1
DESIGN_FILE = "design.json"

_TOP_FIELDS = {"format", "name", "root", "units", "description"}
_NODE_FIELDS = {"class", "file", "role", "args", "children"}


@dataclass(frozen=True)
class UnitNode:
    """One node of the unit tree: class ``cls`` from ``file`` with ``args`` and children."""

    id: str
    cls: str
    file: str
    role: str
    args: Mapping[str, Any] = field(default_factory=dict)
    children: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "class": self.cls,
            "file": self.file,
            "role": self.role,
            "args": dict(self.args),
            "children": dict(self.children),
        }


@dataclass(frozen=True)
class Design:
    """A validated design. ``sources`` maps each unit file (relative path) to its text."""

    name: str
    roots: tuple[str, ...]
    units: Mapping[str, UnitNode]
    sources: Mapping[str, str]
    decls: Mapping[str, UnitDecl]  # unit id -> the declaration of its class
    description: str = ""
    path: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"format": FORMAT_VERSION, "name": self.name}
        data["root"] = self.roots[0] if len(self.roots) == 1 else list(self.roots)
        if self.description:
            data["description"] = self.description
        data["units"] = {uid: node.to_dict() for uid, node in self.units.items()}
        return data

    def to_json(self) -> str:
        """The canonical ``design.json`` text: two-space indents, a unit's fields in one order,
        empty ``args`` and ``children`` left out. Every committed design is written so, so a
        diff of two designs shows only what differs (a one-argument mutation: one line)."""
        data = self.to_dict()
        for node in data["units"].values():
            for key in ("args", "children"):
                if not node[key]:
                    del node[key]
        return json.dumps(data, indent=2) + "\n"

    def walk(self, root: str | None = None) -> Iterator[tuple[int, str | None, UnitNode]]:
        """Depth-first (depth, slot, node) over the tree under ``root`` (every root if None)."""
        stack: list[tuple[int, str | None, str]] = []
        for r in reversed(self.roots if root is None else (root,)):
            stack.append((0, None, r))
        while stack:
            depth, slot, uid = stack.pop()
            node = self.units[uid]
            yield depth, slot, node
            for child_slot, child in reversed(list(node.children.items())):
                stack.append((depth + 1, child_slot, child))

    def save(self, directory: str | Path, extra_files: Mapping[str, str] | None = None) -> Path:
        """Write ``design.json``, the unit sources and ``extra_files`` (name -> text) there."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        (out / DESIGN_FILE).write_text(self.to_json(), encoding="utf-8")
        for rel, text in {**self.sources, **(extra_files or {})}.items():
            target = out / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        return out


# --------------------------------------------------------------------------------------------
# Validation


def _expect(cond: bool, message: str, path: Path | str, fld: str) -> None:
    if not cond:
        raise DesignError(message, path, fld)


def design_from_dict(
    data: Any, sources: Mapping[str, str], path: str | Path | None = None
) -> Design:
    """Validate ``data`` (parsed ``design.json``) against ``sources`` and return a Design.

    ``path`` is the design directory, used only in error messages. Raises DesignError naming the
    file and the field at fault.
    """
    base = Path(path) if path is not None else Path("<design>")
    jpath = base / DESIGN_FILE
    name, description, roots, units_raw = _top_fields(data, jpath)
    units: dict[str, UnitNode] = {}
    decls: dict[str, UnitDecl] = {}
    file_decls: dict[str, dict[str, UnitDecl]] = {}
    for uid, raw in units_raw.items():
        units[uid], decls[uid] = _unit(uid, raw, sources, base, file_decls)
    _check_tree(roots, units, decls, jpath)
    used_files = {n.file for n in units.values()}
    return Design(
        name=name,
        roots=roots,
        units=units,
        sources={rel: text for rel, text in sources.items() if rel in used_files},
        decls=decls,
        description=description,
        path=Path(path) if path is not None else None,
    )


def _top_fields(data: Any, jpath: Path) -> tuple[str, str, tuple[str, ...], dict[str, Any]]:
    """The top level of design.json: (name, description, roots, the raw unit entries)."""
    _expect(isinstance(data, dict), "design.json must hold a JSON object", jpath, "")
    unknown = sorted(set(data) - _TOP_FIELDS)
    _expect(
        not unknown,
        f"unknown field(s) {unknown}; allowed: {sorted(_TOP_FIELDS)}",
        jpath,
        unknown[0] if unknown else "",
    )
    for required in ("format", "name", "root", "units"):
        _expect(required in data, f"missing required field {required!r}", jpath, required)
    _expect(
        data["format"] == FORMAT_VERSION,
        f"format {data['format']!r} is not supported (this Genesys reads format {FORMAT_VERSION})",
        jpath,
        "format",
    )
    name = data["name"]
    _expect(
        isinstance(name, str) and name.strip() != "",
        "name must be a non-empty string",
        jpath,
        "name",
    )
    description = data.get("description", "")
    _expect(isinstance(description, str), "description must be a string", jpath, "description")
    root = data["root"]
    roots = (root,) if isinstance(root, str) else tuple(root) if isinstance(root, list) else ()
    _expect(
        bool(roots) and all(isinstance(r, str) for r in roots),
        "root must be a unit id or a non-empty list of unit ids (a layer pattern)",
        jpath,
        "root",
    )
    units_raw = data["units"]
    _expect(
        isinstance(units_raw, dict) and bool(units_raw),
        "units must be a non-empty object",
        jpath,
        "units",
    )
    return name, description, roots, units_raw


def _unit(
    uid: str,
    raw: Any,
    sources: Mapping[str, str],
    base: Path,
    file_decls: dict[str, dict[str, UnitDecl]],
) -> tuple[UnitNode, UnitDecl]:
    """One unit entry, validated against its class's declarations (read once per file into
    ``file_decls``)."""
    jpath, where = base / DESIGN_FILE, f"units.{uid}"
    _check_entry_fields(raw, jpath, where)
    rel, args, children = raw["file"], raw.get("args", {}), raw.get("children", {})
    _expect(rel in sources, f"unit file {rel!r} does not exist", jpath, f"{where}.file")
    if rel not in file_decls:
        try:
            file_decls[rel] = read_unit_declarations(sources[rel], str(base / rel))
        except SyntaxError as exc:
            raise DesignError(
                f"syntax error at line {exc.lineno}: {exc.msg}", base / rel, "source"
            ) from None
        except ValueError as exc:
            raise DesignError(str(exc), base / rel, "declarations") from None
    decl = file_decls[rel].get(raw["class"])
    _expect(
        decl is not None,
        f"unknown class {raw['class']!r}: {rel} defines "
        f"{sorted(file_decls[rel]) or 'no Unit class'}",
        jpath,
        f"{where}.class",
    )
    assert decl is not None
    _expect(
        decl.role == raw["role"],
        f"role {raw['role']!r} does not match the role "
        f"{decl.role!r} that class {decl.name} declares",
        jpath,
        f"{where}.role",
    )
    for slot in children:
        _expect(
            slot in decl.slots,
            f"unknown slot {slot!r}; {decl.name} declares {sorted(decl.slots)}",
            jpath,
            f"{where}.children.{slot}",
        )
    for slot in decl.slots:
        _expect(
            slot in children,
            f"slot {slot!r} of {decl.name} has no child",
            jpath,
            f"{where}.children",
        )
    checked: dict[str, Any] = {}
    for key, value in args.items():
        _expect(
            key in decl.args,
            f"unknown argument {key!r}; {decl.name} declares {sorted(decl.args)}",
            jpath,
            f"{where}.args.{key}",
        )
        try:
            checked[key] = decl.args[key].validate(value)
        except ValueError as exc:
            raise DesignError(str(exc), jpath, f"{where}.args.{key}") from None
    return UnitNode(uid, raw["class"], rel, raw["role"], checked, dict(children)), decl


def _check_entry_fields(raw: Any, jpath: Path, where: str) -> None:
    """A unit entry's own fields: known, of the right types, a safe file path, a known role."""
    _expect(isinstance(raw, dict), "a unit entry must be an object", jpath, where)
    unknown = sorted(set(raw) - _NODE_FIELDS)
    _expect(
        not unknown,
        f"unknown field(s) {unknown}; allowed: {sorted(_NODE_FIELDS)}",
        jpath,
        f"{where}.{unknown[0]}" if unknown else where,
    )
    for required in ("class", "file", "role"):
        _expect(
            isinstance(raw.get(required), str),
            f"missing or non-string {required!r}",
            jpath,
            f"{where}.{required}",
        )
    args, children = raw.get("args", {}), raw.get("children", {})
    _expect(isinstance(args, dict), "args must be an object", jpath, f"{where}.args")
    _expect(
        isinstance(children, dict) and all(isinstance(v, str) for v in children.values()),
        "children must map slot names to unit ids",
        jpath,
        f"{where}.children",
    )
    rel = raw["file"]
    pure = PurePosixPath(rel)
    _expect(
        not pure.is_absolute() and ".." not in pure.parts and pure.suffix == ".py",
        f"unit file {rel!r} must be a relative .py path inside the design",
        jpath,
        f"{where}.file",
    )
    _expect(
        raw["role"] in ROLES,
        f"unknown role {raw['role']!r}; known roles: {sorted(ROLES)}",
        jpath,
        f"{where}.role",
    )


def _check_tree(
    roots: tuple[str, ...],
    units: Mapping[str, UnitNode],
    decls: Mapping[str, UnitDecl],
    jpath: Path,
) -> None:
    """The units form a tree under the roots: roots are blocks, each child fits its slot's
    role and has one parent, no cycle, nothing unreachable."""
    for r in roots:
        _expect(r in units, f"root {r!r} is not a unit id", jpath, "root")
        _expect(
            units[r].role == "block",
            f"root {r!r} must have role 'block', not {units[r].role!r}",
            jpath,
            "root",
        )
    parent_of: dict[str, str] = {}
    for uid, node in units.items():
        for slot, child in node.children.items():
            fld = f"units.{uid}.children.{slot}"
            _expect(child in units, f"child {child!r} is not a unit id", jpath, fld)
            want = decls[uid].slots[slot]
            _expect(
                units[child].role == want,
                f"slot {slot!r} takes a {want!r} unit, but {child!r} is a {units[child].role!r}",
                jpath,
                fld,
            )
            _expect(
                child not in parent_of,
                f"unit {child!r} is used twice (also under "
                f"{parent_of.get(child)!r}); give each use its own id",
                jpath,
                fld,
            )
            parent_of[child] = uid
    # Every unit has at most one parent, so the graph is a forest plus possible cycles; a node
    # on a cycle is never reachable from a root (roots have no parent).
    for r in roots:
        _expect(
            r not in parent_of, f"root {r!r} is also a child of {parent_of.get(r)!r}", jpath, "root"
        )
    reachable: set[str] = set()
    stack = list(roots)
    while stack:
        uid = stack.pop()
        if uid not in reachable:
            reachable.add(uid)
            stack.extend(units[uid].children.values())
    orphans = sorted(set(units) - reachable)
    if orphans:
        on_cycle = [u for u in orphans if _on_cycle(u, units)]
        if on_cycle:
            raise DesignError(
                f"the unit tree has a cycle through {on_cycle}",
                jpath,
                f"units.{on_cycle[0]}.children",
            )
        raise DesignError(
            f"unit(s) {orphans} are not reachable from the root", jpath, f"units.{orphans[0]}"
        )


def _on_cycle(start: str, units: Mapping[str, UnitNode]) -> bool:
    seen: set[str] = set()
    stack = list(units[start].children.values())
    while stack:
        uid = stack.pop()
        if uid == start:
            return True
        if uid in seen or uid not in units:
            continue
        seen.add(uid)
        stack.extend(units[uid].children.values())
    return False


def load_design(path: str | Path) -> Design:
    """Load and validate the design directory at ``path`` (or its ``design.json``).

    A bare name such as ``"gpt"`` that is not a directory is looked up in the reference library.
    """
    p = Path(path)
    if p.name == DESIGN_FILE and p.is_file():
        p = p.parent
    if not p.exists() and len(p.parts) == 1:
        from genesys_tui.resources import library_dir

        candidate = library_dir() / p.name
        if candidate.is_dir():
            p = candidate
    jpath = p / DESIGN_FILE
    if not p.is_dir():
        raise DesignError(
            "no such design directory (expected a folder with design.json, or "
            "the name of a library design; see `genesys library`)",
            p,
        )
    if not jpath.is_file():
        raise DesignError("missing design.json", jpath)
    try:
        data = json.loads(jpath.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DesignError(
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", jpath
        ) from None
    sources: dict[str, str] = {}
    if isinstance(data, dict) and isinstance(data.get("units"), dict):
        for raw in data["units"].values():
            rel = raw.get("file") if isinstance(raw, dict) else None
            if isinstance(rel, str) and rel not in sources:
                pure = PurePosixPath(rel)
                f = p / rel
                if not pure.is_absolute() and ".." not in pure.parts and f.is_file():
                    sources[rel] = f.read_text(encoding="utf-8")
    return design_from_dict(data, sources, p)
