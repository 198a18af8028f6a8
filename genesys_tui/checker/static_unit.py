"""Static checks on the Unit class of a unit file: exactly one per file, its forward follows the
contract, its declared slots are received, kept and used, its arguments match ``args``, and it
builds no unit behind the design's back (children come from design.json through slots).
"""

from __future__ import annotations

import ast
from collections.abc import Callable

from genesys_tui.checker.report import ERROR, WARNING, Finding
from genesys_tui.design import UnitDecl

#: Makes a finding at a node: (check, node, message, hint, severity=ERROR) -> Finding.
MakeFinding = Callable[..., Finding]


def _unit_classes(tree: ast.Module) -> list[ast.ClassDef]:
    units: list[ast.ClassDef] = []
    known = {"Unit"}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            bases = {
                b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases
            }
            if bases & known:
                units.append(node)
                known.add(node.name)
    return units


def _method(cls: ast.ClassDef, name: str) -> ast.FunctionDef | None:
    return next((s for s in cls.body if isinstance(s, ast.FunctionDef) and s.name == name), None)


def _self_attr_loads(fn: ast.FunctionDef) -> set[str]:
    return {
        n.attr
        for n in ast.walk(fn)
        if isinstance(n, ast.Attribute)
        and isinstance(n.value, ast.Name)
        and n.value.id == "self"
        and isinstance(n.ctx, ast.Load)
    }


def check_unit_classes(
    tree: ast.Module, classes: dict[str, UnitDecl], finding: MakeFinding
) -> list[Finding]:
    out = []
    units = _unit_classes(tree)
    if len(units) > 1:
        names = ", ".join(c.name for c in units)
        out.append(
            finding(
                "unit_class",
                units[1],
                f"the file defines {len(units)} Unit classes "
                f"({names}); a unit file holds exactly one",
                "move each other Unit class into a file of its own and connect it "
                "through a slot in design.json",
            )
        )
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node not in units:
            out.append(
                finding(
                    "unit_class",
                    node,
                    f"helper class {node.name} hides structure from the unit tree",
                    "make it a Unit in its own file and give "
                    "the parent a slot for it, or write it as a function",
                    severity=WARNING,
                )
            )
    for cls in units:
        decl = classes.get(cls.name)
        if decl is None:
            continue
        out += _check_slots_and_args(cls, decl, finding)
    return out


def _check_slots_and_args(cls: ast.ClassDef, decl: UnitDecl, finding: MakeFinding) -> list[Finding]:
    init, forward = _method(cls, "__init__"), _method(cls, "forward")
    params: list[str] = []
    has_kwargs = False
    if init is not None:
        params = [a.arg for a in init.args.args[2:] + init.args.kwonlyargs]
        has_kwargs = init.args.kwarg is not None
    return [
        *_check_forward(cls, forward, finding),
        *_check_slots(cls, decl, init, forward, params, has_kwargs, finding),
        *_check_args(cls, decl, init, params, has_kwargs, finding),
        *_check_built_children(cls, finding),
    ]


def _check_forward(
    cls: ast.ClassDef, forward: ast.FunctionDef | None, finding: MakeFinding
) -> list[Finding]:
    """forward exists and takes (self, X, **Z)."""
    if forward is None:
        return [
            finding(
                "contract",
                cls,
                f"{cls.name} defines no forward(self, X, **Z)",
                "add forward(self, X, **Z) returning (Y, Z), Y of X's shape",
            )
        ]
    if forward.args.kwarg is None or len(forward.args.args) < 2:
        return [
            finding(
                "contract",
                forward,
                f"{cls.name}.forward must take (self, X, **Z)",
                "write the signature as forward(self, X, **Z): Z carries named "
                "values between units, and every unit must pass it on",
            )
        ]
    return []


def _kept_as_self(init: ast.FunctionDef | None) -> set[str]:
    """Names ``x`` that __init__ keeps as ``self.x = x``."""
    assigned: set[str] = set()
    for n in ast.walk(init) if init is not None else ():
        if isinstance(n, ast.Assign):
            for t in n.targets:
                if (
                    isinstance(t, ast.Attribute)
                    and isinstance(t.value, ast.Name)
                    and t.value.id == "self"
                    and isinstance(n.value, ast.Name)
                    and n.value.id == t.attr
                ):
                    assigned.add(t.attr)
    return assigned


def _check_slots(
    cls: ast.ClassDef,
    decl: UnitDecl,
    init: ast.FunctionDef | None,
    forward: ast.FunctionDef | None,
    params: list[str],
    has_kwargs: bool,
    finding: MakeFinding,
) -> list[Finding]:
    """Each declared slot arrives in __init__, is kept as self.<slot> and used elsewhere."""
    other_loads: set[str] = set()
    for stmt in cls.body:
        if isinstance(stmt, ast.FunctionDef) and stmt.name != "__init__":
            other_loads |= _self_attr_loads(stmt)
    assigned = _kept_as_self(init)
    out = []
    for slot in decl.slots:
        where = init if init is not None else cls
        if slot not in params and not has_kwargs:
            out.append(
                finding(
                    "slots",
                    where,
                    f"slot {slot!r} is declared but __init__ takes no argument of that name",
                    f"add {slot} to __init__'s parameters; the child arrives there",
                )
            )
        elif slot not in assigned:
            out.append(
                finding(
                    "slots",
                    where,
                    f"slot {slot!r} is not kept as self.{slot}",
                    f"write self.{slot} = {slot} in __init__",
                )
            )
        if slot not in other_loads:
            out.append(
                finding(
                    "slots",
                    forward or cls,
                    f"child slot {slot!r} is declared but never used outside __init__",
                    f"call self.{slot}(H, **Z) in forward, or remove the slot from "
                    "slots and design.json",
                )
            )
    return out


def _check_args(
    cls: ast.ClassDef,
    decl: UnitDecl,
    init: ast.FunctionDef | None,
    params: list[str],
    has_kwargs: bool,
    finding: MakeFinding,
) -> list[Finding]:
    """Declared arguments and __init__'s parameters agree both ways."""
    out = []
    for name in decl.args:
        if name not in params and not has_kwargs:
            out.append(
                finding(
                    "args",
                    init or cls,
                    f"argument {name!r} is declared in args but __init__ does not accept it",
                    f"add {name}=<default> to __init__'s parameters",
                )
            )
    if init is None:
        return out
    defaults = len(init.args.defaults)
    positional = init.args.args[2:]
    required = {a.arg for a in positional[: len(positional) - defaults]} | {
        a.arg for a, d in zip(init.args.kwonlyargs, init.args.kw_defaults, strict=True) if d is None
    }
    for name in params:
        if name in decl.slots or name in decl.args:
            continue
        out.append(
            finding(
                "args",
                init,
                f"__init__ takes {name!r}, which is neither a "
                "declared slot nor a declared argument",
                "declare it in args as Arg(default, ...) or in slots, or remove it",
                severity=ERROR if name in required else WARNING,
            )
        )
    return out


def _check_built_children(cls: ast.ClassDef, finding: MakeFinding) -> list[Finding]:
    """A unit never builds a unit itself: children come through slots."""
    out = []
    for n in ast.walk(cls):
        if isinstance(n, ast.Call):
            f = n.func
            made = (isinstance(f, ast.Name) and f.id in {cls.name, "Unit"}) or (
                isinstance(f, ast.Call) and isinstance(f.func, ast.Name) and f.func.id == "type"
            )
            if made:
                out.append(
                    finding(
                        "slots",
                        n,
                        f"{cls.name} builds a unit itself; children must "
                        "come from design.json through slots",
                        "declare a slot for the child and name it in design.json",
                    )
                )
    return out
