"""``genesys show DESIGN``: a design's unit tree with arguments."""

from __future__ import annotations

import argparse

from genesys_tui.design import Design


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("show", help="print a design's unit tree with its arguments")
    p.add_argument("design", help="a design directory or the name of a library design")
    p.set_defaults(func=run)


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


def run(args: argparse.Namespace) -> int:
    from genesys_tui.design import load_design

    print(format_tree(load_design(args.design)))
    return 0
