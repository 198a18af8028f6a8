"""Python source to ``ast`` trees, safe to call from any thread: every parse in Genesys goes
through ``parse`` here.

CPython 3.11 keeps the recursion depth of its AST-to-object conversion in per-interpreter state,
not per thread (CPython gh-106905, fixed in later releases). When a garbage collection during
one ``ast.parse`` runs a finalizer and the interpreter switches to another thread that parses
too, the depths of both mix and one of them raises ``SystemError: AST constructor recursion
depth mismatch``. The dashboard parses on its UI thread while the evolution loop parses on its
own (static checks, the unit pool, the offline designer), so that race killed the loop. One
process-wide lock around each parse closes it; a parse of a unit file takes about a millisecond,
so the lock costs nothing measurable.

``compile()`` to bytecode builds no Python AST objects and needs no lock.
"""

from __future__ import annotations

import ast
import threading
from typing import Any

_LOCK = threading.RLock()  # re-entrant: a finalizer that parses on the same thread must not hang


def parse(source: str | bytes, filename: str = "<unknown>") -> ast.Module:
    """``ast.parse(source, filename)`` under the process-wide parse lock.

    Raises SyntaxError (and ValueError for null bytes) exactly as ``ast.parse`` does.
    """
    with _LOCK:
        return ast.parse(source, filename=filename)


def literal_eval(node_or_source: ast.AST | str) -> Any:
    """``ast.literal_eval``; a string is parsed under the lock first."""
    if isinstance(node_or_source, str):
        with _LOCK:
            return ast.literal_eval(node_or_source)
    return ast.literal_eval(node_or_source)


def module_docstring(source: str) -> str:
    """The module docstring of ``source`` ('' when it has none or does not parse)."""
    try:
        return ast.get_docstring(parse(source)) or ""
    except (SyntaxError, ValueError):
        return ""
