"""Parsing Python source from many threads at once (the race that killed the dashboard's loop).

CPython 3.11 raises ``SystemError: AST constructor recursion depth mismatch`` when two threads
build AST objects at once and a garbage collection switches between them (gh-106905). The
harness below makes that happen on purpose: tiny switch interval, garbage with finalizers, many
threads parsing a real module.
"""

from __future__ import annotations

import ast
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from genesys_tui import parsing

PACKAGE = Path(__file__).resolve().parents[1] / "genesys_tui"
SOURCE = (PACKAGE / "design.py").read_text(encoding="utf-8")


class _Cycle:
    """Cyclic garbage with a finalizer: collecting it runs Python code, which lets the
    interpreter switch threads in the middle of a parse."""

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        sum(range(50))


def _hammer(parse: Callable[[str], object], threads: int = 8, rounds: int = 60) -> list[str]:
    errors: list[str] = []

    def work() -> None:
        for _ in range(rounds):
            for _ in range(50):
                _Cycle()
            try:
                parse(SOURCE)
            except SystemError as exc:
                errors.append(str(exc))
                return

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        workers = [threading.Thread(target=work) for _ in range(threads)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
    finally:
        sys.setswitchinterval(old)
    return errors


def test_the_harness_reproduces_the_race_with_plain_ast_parse() -> None:
    """Without the lock the harness fails: proof that the next test can fail."""
    for _ in range(3):
        errors = _hammer(ast.parse)
        if errors:
            assert "recursion depth mismatch" in errors[0]
            return
    pytest.skip(f"this interpreter ({sys.version.split()[0]}) does not show the race")


def test_parsing_from_many_threads_at_once_never_raises() -> None:
    assert _hammer(parsing.parse) == []


def test_no_module_parses_python_outside_the_lock() -> None:
    """Every parse goes through genesys_tui.parsing: one stray ast.parse reopens the race."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "parsing.py" and path.parent == PACKAGE:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute) or node.attr not in ("parse", "PyCF_ONLY_AST"):
                continue
            if isinstance(node.value, ast.Name) and node.value.id == "ast":
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno} ast.{node.attr}")
    assert offenders == []


def test_parse_keeps_ast_parse_errors() -> None:
    with pytest.raises(SyntaxError) as info:
        parsing.parse("def f(:\n", filename="units/bad.py")
    assert info.value.filename == "units/bad.py"
    assert parsing.module_docstring('"""Doc."""\nx = 1\n') == "Doc."
    assert parsing.module_docstring("def (") == ""
