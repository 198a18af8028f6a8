"""Static checks: read each unit file's syntax tree, run nothing.

These run in the caller's process (they only parse), before any code of the design executes,
and report every problem they see in one pass, each with the file, the line and how to fix it.
The lists of what is banned live in ``banned.py``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from genesys_tui.checker.banned import (
    ALLOWED_MODULES,
    BANNED_ATTRIBUTES,
    BANNED_CALLS,
    BANNED_NAMES,
    module_verdict,
)
from genesys_tui.checker.report import ERROR, Finding
from genesys_tui.checker.static_modules import check_module_use
from genesys_tui.checker.static_unit import MakeFinding, check_unit_classes
from genesys_tui.design import Design, UnitDecl
from genesys_tui.parsing import parse

STAGE = "static"

# Methods of containers that mutate them: calling one on a module-level name from inside a
# function keeps state across calls (and across sequences: a way to see the future).
_MUTATORS = frozenset(
    {"append", "extend", "insert", "pop", "popitem", "remove", "clear", "update", "setdefault",
     "add", "discard", "appendleft", "extendleft", "sort", "reverse", "__setitem__"}
)  # fmt: skip


def check_static(design: Design) -> list[Finding]:
    """Every static finding for every unit file of ``design`` (an empty list when clean)."""
    findings: list[Finding] = []
    classes_by_file: dict[str, dict[str, UnitDecl]] = {}
    units_by_file: dict[str, str] = {}
    for uid, node in design.units.items():
        classes_by_file.setdefault(node.file, {})[node.cls] = design.decls[uid]
        units_by_file.setdefault(node.file, uid)
    for rel in sorted(classes_by_file):
        findings += check_unit_source(
            design.sources[rel], rel, classes_by_file[rel], unit=units_by_file[rel]
        )
    return findings


def check_unit_source(
    source: str, rel: str, classes: dict[str, UnitDecl], unit: str | None = None
) -> list[Finding]:
    """Static findings for one unit file ``rel`` whose Unit classes in use are ``classes``."""
    lines = source.splitlines()

    def finding(check: str, node: ast.AST | None, message: str, hint: str,
                severity: str = ERROR) -> Finding:  # fmt: skip
        line = getattr(node, "lineno", None)
        code = lines[line - 1] if line is not None and 0 < line <= len(lines) else None
        return Finding(check, severity, message, hint, STAGE, rel, line, unit, code)

    try:
        tree = parse(source, filename=rel)
    except SyntaxError as exc:
        line = exc.lineno
        return [
            Finding(
                "parse",
                ERROR,
                f"syntax error: {exc.msg}",
                "fix the syntax so that the file parses as Python 3.11",
                STAGE,
                rel,
                line,
                unit,
                lines[line - 1] if line and 0 < line <= len(lines) else None,
            )
        ]
    out: list[Finding] = []
    aliases = _import_aliases(tree)
    out += _check_imports(tree, finding)
    out += _check_module_level(tree, finding)
    out += _check_names(tree, aliases, finding)
    out += _check_global_state(tree, aliases, finding)
    out += check_module_use(tree, aliases, finding)
    out += check_unit_classes(tree, classes, finding)
    return out


# --------------------------------------------------------------------------------------------


def _import_aliases(tree: ast.Module) -> dict[str, str]:
    """Local name -> the dotted module or object it names (``F`` -> ``torch.nn.functional``)."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    aliases[a.asname] = a.name
                else:
                    root = a.name.split(".")[0]
                    aliases[root] = root
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    return aliases


def _check_imports(tree: ast.Module, finding: MakeFinding) -> list[Finding]:
    out = []
    allowed = ", ".join(sorted(ALLOWED_MODULES))
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                out.append(
                    finding(
                        "import",
                        node,
                        "relative import: a unit file is loaded on its own, outside any package",
                        "import only torch, math and the other allowed modules; "
                        "put shared helpers in the unit file itself",
                    )
                )
                continue
            module = node.module or ""
            names = [module] + [f"{module}.{a.name}" for a in node.names if a.name != "*"]
        for name in names:
            verdict = module_verdict(name)
            if verdict == "banned":
                out.append(
                    finding(
                        "banned_import",
                        node,
                        f"import of {name!r}, which unit code "
                        "may not use (file system, network, processes, native code "
                        "or the interpreter's internals)",
                        f"remove the import; unit code may import only {allowed}",
                    )
                )
                break
            if verdict == "unknown":
                out.append(
                    finding(
                        "import",
                        node,
                        f"import of {name!r}, which is not on the "
                        "list of modules unit code may use",
                        f"rewrite it with the allowed modules: {allowed}",
                    )
                )
                break
    return out


def _is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


def _check_module_level(tree: ast.Module, finding: MakeFinding) -> list[Finding]:
    out = []
    hint = (
        "at module level keep only the docstring, imports, constants, helper functions and "
        "the Unit class; do work inside __init__ or forward"
    )
    for i, stmt in enumerate(tree.body):
        if isinstance(stmt, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.ClassDef):
            continue
        if i == 0 and _is_docstring(stmt):
            continue
        if isinstance(stmt, ast.Assign) and all(isinstance(t, ast.Name) for t in stmt.targets):
            continue
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            continue
        kind = type(stmt).__name__.lower()
        out.append(
            finding(
                "module_level",
                stmt,
                f"a module-level {kind} statement runs when the file is loaded",
                hint,
            )
        )
    return out


def _dotted(node: ast.expr, aliases: dict[str, str]) -> str | None:
    """``torch.jit.save`` for an attribute chain rooted at an imported name, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in aliases:
        return None
    return ".".join([aliases[node.id], *reversed(parts)])


def _check_names(tree: ast.Module, aliases: dict[str, str], finding: MakeFinding) -> list[Finding]:
    out = []
    # A harmless built-in that the file binds itself (``def forward(self, input)``) is a local
    # variable, not the built-in; the dangerous ones are refused however they are bound.
    bound = _bound_names(tree) & _SHADOWABLE
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in BANNED_NAMES and node.id not in bound:
            out.append(
                finding(
                    "banned_call",
                    node,
                    f"use of the built-in {node.id!r}, which "
                    "could run arbitrary code or reach outside the model",
                    _name_hint(node.id),
                )
            )
        elif isinstance(node, ast.Attribute) and node.attr in BANNED_ATTRIBUTES:
            out.append(
                finding(
                    "banned_attribute",
                    node,
                    f"access to the attribute {node.attr!r}, a way out of the sandbox",
                    "unit code needs no introspection: use plain attributes of "
                    "self and torch functions",
                )
            )
        elif isinstance(node, ast.Attribute | ast.Name):
            dotted = (
                _dotted(node, aliases) if isinstance(node, ast.Attribute) else aliases.get(node.id)
            )
            if dotted in BANNED_CALLS:
                out.append(
                    finding(
                        "banned_call",
                        node,
                        f"use of {dotted}, which reads or "
                        "writes files, loads native code or compiles with a cache",
                        "remove it: weights come from the checker's and trainer's "
                        "initialisation, and the trainer compiles the whole model",
                    )
                )
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"getattr", "hasattr"}
            and len(node.args) >= 2
        ):
            name = node.args[1]
            if isinstance(name, ast.Constant) and isinstance(name.value, str):
                obj = node.args[0]
                target = (
                    aliases.get(obj.id)
                    if isinstance(obj, ast.Name)
                    else _dotted(obj, aliases)
                    if isinstance(obj, ast.Attribute)
                    else None
                )
                if (
                    name.value in BANNED_ATTRIBUTES
                    or name.value in BANNED_NAMES
                    or (target is not None and f"{target}.{name.value}" in BANNED_CALLS)
                ):
                    out.append(
                        finding(
                            "banned_attribute",
                            node,
                            f"{node.func.id}(..., "
                            f"{name.value!r}) reaches something unit code may not "
                            "use",
                            "use ordinary attribute access on self or torch",
                        )
                    )
    return out


_SHADOWABLE = frozenset({"input", "help", "vars", "exit", "quit", "memoryview"})


def _bound_names(tree: ast.Module) -> set[str]:
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
    return bound


def _name_hint(name: str) -> str:
    if name == "setattr":
        return (
            "register submodules with nn.ModuleList / nn.ModuleDict or plain "
            "self.name = ... assignments instead of setattr"
        )
    if name in {"open", "input", "help", "breakpoint"}:
        return "a unit reads nothing from files or the terminal: remove the call"
    if name in {"exit", "quit"}:
        return "raise ValueError with a message instead of exiting"
    return "write the computation directly in Python and torch; never build code from strings"


def _module_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            names.update(t.id for t in stmt.targets if isinstance(t, ast.Name))
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            names.add(stmt.target.id)
    return names


def _functions(tree: ast.Module) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def _check_global_state(
    tree: ast.Module, aliases: dict[str, str], finding: MakeFinding
) -> list[Finding]:
    out = []
    hint = (
        "keep state in self (buffers, attributes set in __init__) or pass it in Z; module "
        "globals outlive a forward call and can carry information between sequences"
    )
    module_names = _module_names(tree)
    for fn in _functions(tree):
        local = {a.arg for a in fn.args.args + fn.args.kwonlyargs + fn.args.posonlyargs}
        for node in ast.walk(fn):
            if isinstance(node, ast.Global | ast.Nonlocal):
                out.append(
                    finding(
                        "global_state",
                        node,
                        f"{type(node).__name__.lower()} {', '.join(node.names)} in {fn.name}()",
                        hint,
                    )
                )
            elif isinstance(node, ast.Assign | ast.AugAssign | ast.Delete):
                targets = (
                    node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
                )
                for t in targets:
                    base = t
                    while isinstance(base, ast.Subscript | ast.Attribute):
                        base = base.value
                    if (  # a patch of an imported name is check_module_use's
                        base is not t
                        and isinstance(base, ast.Name)
                        and base.id in module_names
                        and base.id not in aliases
                        and base.id not in local
                    ):
                        out.append(
                            finding(
                                "global_state",
                                node,
                                f"{fn.name}() modifies the module-level {base.id!r}",
                                hint,
                            )
                        )
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in _MUTATORS
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in module_names
                and node.func.value.id not in local
            ):
                out.append(
                    finding(
                        "global_state",
                        node,
                        f"{fn.name}() modifies the "
                        f"module-level {node.func.value.id!r} "
                        f"(.{node.func.attr})",
                        hint,
                    )
                )
    return out
