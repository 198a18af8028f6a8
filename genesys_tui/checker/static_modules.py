"""Static checks on what a unit file does with what it imports: it never patches it, and never
reaches through it into a module it could not import.

Patching is assigning to (or deleting) an attribute or item of an imported module, class or
function, or of anything reached from one: ``F.cross_entropy = fake`` through the alias
``import torch.nn.functional as F``, ``torch.Tensor.softmax = ...``, ``setattr(torch, ...)``
(refused as a banned name elsewhere), ``object.__setattr__(torch.Tensor, ...)``,
``type(X).foo = ...``, ``X.__class__.foo = ...``, and the same through names bound to any of these
(``T = torch.Tensor``, ``self.F = F``, ``for m in (F, torch)``, a helper that returns one). A
patch changes every model in the process, the checker's code and the trainer's loss included.
The runtime tamper check (``tamper.py``) is the net for what a syntax tree cannot follow.

Reaching is an attribute chain from an allowed import into a module that is not allowed:
``import genesys_tui.units`` binds ``genesys_tui``, and ``genesys_tui.checker.causality`` would
reach the checker's own code.
"""

from __future__ import annotations

import ast

from genesys_tui.checker.banned import module_verdict
from genesys_tui.checker.report import Finding
from genesys_tui.checker.static_unit import MakeFinding

PATCH_HINT = (
    "never assign to or delete attributes of torch, of any other imported module, or of their "
    "classes and functions: the change would reach every model in the process, the checker's "
    "code and the trainer's loss included; keep your own values on self or pass them in Z"
)
_SETTERS = frozenset({"__setattr__", "__delattr__", "__setitem__", "__delitem__"})


def check_module_use(tree: ast.Module, aliases: dict[str, str], finding: MakeFinding
                     ) -> list[Finding]:  # fmt: skip
    """Findings for every patch of imported code and every reach into a module not allowed."""
    reach = _Reach(tree, aliases)
    return _patches(tree, reach, finding) + _reaches(tree, aliases, finding)


class _Reach:
    """Which expressions may evaluate to imported code (a module, class or function)."""

    def __init__(self, tree: ast.Module, aliases: dict[str, str]) -> None:
        self.names: set[str] = set(aliases)  # local names and "self.x" keys bound to one
        self.functions: set[str] = set()  # local functions that return one
        for _ in range(8):  # bindings chain (a = F; b = a): grow to a fixed point
            size = len(self.names) + len(self.functions)
            self._bind(tree)
            if len(self.names) + len(self.functions) == size:
                break

    def __call__(self, node: ast.AST | None) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.names
        if isinstance(node, ast.Attribute):
            if node.attr == "__class__":
                return True
            if isinstance(node.value, ast.Name) and f"{node.value.id}.{node.attr}" in self.names:
                return True
            return self(node.value)
        if isinstance(node, ast.Subscript | ast.Starred | ast.NamedExpr):
            return self(node.value)
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            return any(self(e) for e in node.elts)
        if isinstance(node, ast.Dict):
            return any(self(v) for v in node.values)
        if isinstance(node, ast.IfExp):
            return self(node.body) or self(node.orelse)
        if isinstance(node, ast.BoolOp):
            return any(self(v) for v in node.values)
        if isinstance(node, ast.Lambda):
            return self(node.body)
        if isinstance(node, ast.Call):
            return self._call(node)
        return False

    def _call(self, node: ast.Call) -> bool:
        f = node.func
        if isinstance(f, ast.Name):
            if f.id == "type" and len(node.args) == 1:
                return True
            if f.id == "getattr" and node.args:
                return self(node.args[0])
            return f.id in self.functions
        return isinstance(f, ast.Lambda) and self(f.body)

    def _bind(self, tree: ast.Module) -> None:
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign | ast.AnnAssign | ast.NamedExpr):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if self(node.value):
                    for t in targets:
                        self._taint(t)
            elif isinstance(node, ast.For | ast.AsyncFor | ast.comprehension):
                if self(node.iter):
                    self._taint(node.target)
            elif isinstance(node, ast.withitem):
                if node.optional_vars is not None and self(node.context_expr):
                    self._taint(node.optional_vars)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                self._bind_function(node)

    def _bind_function(self, fn: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        args = fn.args
        positional = args.posonlyargs + args.args
        defaulted = positional[len(positional) - len(args.defaults) :]
        pairs = list(zip(defaulted, args.defaults, strict=True))
        pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d]
        self.names.update(a.arg for a, default in pairs if self(default))
        if isinstance(fn, ast.Lambda):
            return
        returns = (n for n in ast.walk(fn) if isinstance(n, ast.Return) and n.value is not None)
        if any(self(r.value) for r in returns):
            self.functions.add(fn.name)

    def _taint(self, target: ast.AST) -> None:
        if isinstance(target, ast.Name):
            self.names.add(target.id)
        elif isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
            self.names.add(f"{target.value.id}.{target.attr}")
        elif isinstance(target, ast.Tuple | ast.List):
            for e in target.elts:
                self._taint(e)
        elif isinstance(target, ast.Starred):
            self._taint(target.value)


def _patches(tree: ast.Module, reach: _Reach, finding: MakeFinding) -> list[Finding]:
    out = []
    for node in ast.walk(tree):
        target = None
        if isinstance(node, ast.Attribute | ast.Subscript):
            if isinstance(node.ctx, ast.Store | ast.Del) and reach(node.value):
                target = node
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _SETTERS
            and (reach(node.func.value) or any(reach(a) for a in node.args))
        ):
            target = node.func
        if target is not None:
            text = ast.unparse(target)
            verb = "deletes" if isinstance(getattr(target, "ctx", None), ast.Del) else "changes"
            out.append(finding(
                "module_patch", node,
                f"the unit {verb} {text}, which belongs to an imported module, a class or a "
                "function it did not define (a patch of code outside the design)",
                PATCH_HINT,
            ))  # fmt: skip
    return out


def _reaches(tree: ast.Module, aliases: dict[str, str], finding: MakeFinding) -> list[Finding]:
    inner = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    allowed = _allowed_imports(tree)  # an import that is not allowed has a finding of its own
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or id(node) in inner:
            continue
        dotted = _dotted(node, aliases)
        if dotted is None or _root(node) not in allowed:
            continue
        verdict = module_verdict(dotted)
        if verdict != "allowed":
            check = "banned_import" if verdict == "banned" else "import"
            out.append(finding(
                check, node,
                f"use of {dotted}, which lies in a module unit code may not import",
                "use only torch, math and the other allowed modules; a unit needs nothing from "
                "Genesys but genesys_tui.units",
            ))  # fmt: skip
    return out


def _dotted(node: ast.expr, aliases: dict[str, str]) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in aliases:
        return None
    return ".".join([aliases[node.id], *reversed(parts)])


def _root(node: ast.expr) -> str:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else ""


def _allowed_imports(tree: ast.Module) -> set[str]:
    """Local names bound by imports that are allowed (``genesys_tui`` for ``import
    genesys_tui.units``)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if module_verdict(a.name) == "allowed":
                    names.add(a.asname or a.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                if module_verdict(f"{node.module}.{a.name}") == "allowed":
                    names.add(a.asname or a.name)
    return names
