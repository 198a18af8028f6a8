"""What a unit declares about itself: its role, child slots and arguments. Plain data, no torch.

Unit files write these as class-level literals; ``read_unit_declarations`` reads them from the
source with ``ast``, never running it, so designs are validated (and the checker's static stage
works) without executing untrusted code.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from genesys_tui.parsing import parse

#: Roles a unit may play. A slot accepts only children of its declared role.
ROLES: dict[str, str] = {
    "block": "one layer of the model: X (B, T, D) -> Y (B, T, D), residuals included",
    "sequence_mixer": "mixes information across time steps (attention, SSM, recurrence)",
    "channel_mixer": "mixes information across channels at each step (MLP, GLU)",
    "norm": "normalizes activations",
    "conv": "a short causal convolution over time",
    "gate": "multiplies a stream by a learned gate",
    "position": "adds or applies positional information",
    "other": "anything else",
}


@dataclass(frozen=True)
class Arg:
    """A unit argument: default, optional inclusive range or choices, one-line doc.

    The type is the default's type (bool, int, float or str). Unit files declare arguments as
    ``args = {"n_heads": Arg(4, low=1, high=64, doc="attention heads")}``.
    """

    default: bool | int | float | str
    low: int | float | None = None
    high: int | float | None = None
    choices: tuple[Any, ...] | None = None
    doc: str = ""

    @property
    def type(self) -> type:
        return type(self.default)

    def validate(self, value: Any) -> Any:
        """Return ``value`` (an int widened to float for a float Arg) or raise ValueError."""
        kind = self.type
        if kind is bool:
            if not isinstance(value, bool):
                raise ValueError(f"expected a boolean, got {value!r}")
        elif kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"expected an integer, got {value!r}")
        elif kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"expected a number, got {value!r}")
            value = float(value)
        elif kind is str and not isinstance(value, str):
            raise ValueError(f"expected a string, got {value!r}")
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"{value!r} is not one of {list(self.choices)}")
        if self.low is not None and value < self.low:
            raise ValueError(f"{value!r} is below the declared minimum {self.low}")
        if self.high is not None and value > self.high:
            raise ValueError(f"{value!r} is above the declared maximum {self.high}")
        return value


@dataclass(frozen=True)
class UnitDecl:
    """What a unit class declares about itself, read statically from its source."""

    name: str
    role: str
    slots: Mapping[str, str]
    args: Mapping[str, Arg]
    line: int


# --------------------------------------------------------------------------------------------
# Reading declarations from source without running it


def _literal(node: ast.expr, where: str) -> Any:
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise ValueError(f"{where} must be a literal (line {node.lineno})") from None


def _arg_from_ast(node: ast.expr, where: str) -> Arg:
    func = node.func if isinstance(node, ast.Call) else None
    fname = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    if not isinstance(node, ast.Call) or fname != "Arg":
        raise ValueError(f"{where} must be declared as Arg(default, low=..., high=..., doc=...)")
    positional = [_literal(a, where) for a in node.args]
    keywords = {kw.arg: _literal(kw.value, where) for kw in node.keywords if kw.arg}
    if "choices" in keywords and keywords["choices"] is not None:
        keywords["choices"] = tuple(keywords["choices"])
    try:
        return Arg(*positional, **keywords)
    except TypeError as exc:
        raise ValueError(f"{where}: {exc}") from None


def read_unit_declarations(source: str, filename: str = "<unit>") -> dict[str, UnitDecl]:
    """Parse ``source`` and return the declarations of every class deriving from ``Unit``.

    Raises SyntaxError for unparsable source and ValueError for a malformed declaration.
    """
    tree = parse(source, filename=filename)
    found: dict[str, UnitDecl] = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        bases = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
        if "Unit" not in bases:
            continue
        values: dict[str, ast.expr] = {}
        for stmt in node.body:
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
                target, value = stmt.targets[0], stmt.value
            elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                target, value = stmt.target, stmt.value
            else:
                continue
            if isinstance(target, ast.Name) and target.id in {"role", "slots", "args"}:
                values[target.id] = value
        where = f"class {node.name}"
        if "role" not in values:
            raise ValueError(f'{where} declares no role (add e.g. role = "sequence_mixer")')
        role = _literal(values["role"], f"{where}.role")
        slots = _literal(values["slots"], f"{where}.slots") if "slots" in values else {}
        if not isinstance(slots, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in slots.items()
        ):
            raise ValueError(f"{where}.slots must map slot names to role names")
        args: dict[str, Arg] = {}
        if "args" in values:
            if not isinstance(values["args"], ast.Dict):
                raise ValueError(f"{where}.args must be a dict literal of Arg(...)")
            for key, val in zip(values["args"].keys, values["args"].values, strict=True):
                name = _literal(key, f"{where}.args") if key is not None else None
                if not isinstance(name, str):
                    raise ValueError(f"{where}.args keys must be strings")
                args[name] = _arg_from_ast(val, f"{where}.args[{name!r}]")
                try:
                    args[name].validate(args[name].default)
                except ValueError as exc:
                    raise ValueError(f"{where}.args[{name!r}] default: {exc}") from None
        found[node.name] = UnitDecl(node.name, role, slots, args, node.lineno)
    return found
