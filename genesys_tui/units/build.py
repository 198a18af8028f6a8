"""Compose a design's unit tree into modules: children first, then their parent."""

from __future__ import annotations

from typing import Any

from genesys_tui.design import Design, UnitDecl
from genesys_tui.errors import UnitError
from genesys_tui.units.base import BuildContext, Unit
from genesys_tui.units.loader import load_unit_class


def unit_class(design: Design, uid: str) -> type[Unit]:
    """The class of unit ``uid``, loaded from the design's source text."""
    node = design.units[uid]
    base = design.path if design.path is not None else f"<design {design.name}>"
    cls = load_unit_class(design.sources[node.file], f"{base}/{node.file}", node.cls)
    _check_declarations(cls, design.decls[uid], node.file)
    return cls


def _check_declarations(cls: type[Unit], decl: UnitDecl, file: str) -> None:
    # The loader validated the design against the declarations read from source; the class
    # that actually runs must declare the same, or validation proved nothing.
    if (
        cls.role != decl.role
        or dict(cls.slots) != dict(decl.slots)
        or dict(cls.args) != dict(decl.args)
    ):
        raise UnitError(
            f"{file}: class {cls.__name__} computes role/slots/args at run time differently "
            "from what its source declares; write them as plain literals"
        )


def build_unit(design: Design, uid: str, ctx: BuildContext) -> Unit:
    """Instantiate unit ``uid`` and, recursively, its children."""
    node = design.units[uid]
    cls = unit_class(design, uid)
    children = {slot: build_unit(design, child, ctx) for slot, child in node.children.items()}
    kwargs: dict[str, Any] = {name: arg.default for name, arg in cls.args.items()}
    kwargs.update(node.args)
    try:
        unit = cls(ctx, **children, **kwargs)
    except TypeError as exc:
        raise UnitError(f"{node.file}: building {node.cls} (unit {uid!r}) failed: {exc}") from exc
    for slot, child in children.items():
        if getattr(unit, slot, None) is not child:
            raise UnitError(
                f"{node.file}: {node.cls} must keep its child for slot {slot!r} as self.{slot}"
            )
    return unit
