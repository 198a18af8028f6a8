"""A child design's description (``design.json``'s ``description``), written from what changed.

A child copied its parent's ``design.json`` and with it the parent's description, so a design
whose norm had become LayerNorm still said "RMSNorm". Every designer now describes its child with
``describe_child``: what it changed (its one-line title) followed by the unit tree the child
actually has, read from the design itself, so the description cannot drift from the code.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from genesys_tui.design import Design

MAX_CHARS = 400  # a description is one line; the proposal says the rest


def unit_summary(design: Design, uid: str) -> str:
    """``Class(slot Child, ...)`` for the subtree at ``uid``: classes only, slots in order."""
    node = design.units[uid]
    if not node.children:
        return node.cls
    kids = ", ".join(f"{slot} {unit_summary(design, c)}" for slot, c in node.children.items())
    return f"{node.cls}({kids})"


def tree_summary(design: Design) -> str:
    """The layer pattern: each root block's summary, ``" | "`` between alternating blocks."""
    return " | ".join(unit_summary(design, r) for r in design.roots)


def child_description(design: Design, changed: str) -> str:
    """One line: ``changed`` (what the designer did) and the child's unit tree."""
    what = " ".join(changed.split()).rstrip(".")
    tree = tree_summary(design)
    text = f"{what}. Units: {tree}." if what else f"Units: {tree}."
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 3].rstrip() + "..."


def describe_child(design: Design, changed: str, parents: Sequence[Design] = ()) -> Design:
    """``design`` with its description written from ``changed``, unless the designer already
    gave it one of its own (one that is neither empty nor a parent's, inherited unchanged)."""
    inherited = {p.description for p in parents} | {""}
    if design.description not in inherited:
        return design
    return dataclasses.replace(design, description=child_description(design, changed))


def format_tree(design: Design) -> str:
    """The unit tree as indented text: ``slot: id = Class (role) args``."""
    lines = [f"{design.name}" + (f": {design.description}" if design.description else "")]
    for depth, slot, node in design.walk():
        decl = design.decls[node.id]
        args = {name: node.args.get(name, arg.default) for name, arg in decl.args.items()}
        shown = " ".join(f"{k}={v}" for k, v in args.items())
        label = f"{slot}: " if slot else "root: "
        lines.append(
            f"{'  ' * (depth + 1)}{label}{node.id} = {node.cls} ({node.role}) "
            f"[{node.file}]" + (f"  {shown}" if shown else "")
        )
    return "\n".join(lines)
