"""The house rules, read from the source: imports point one way (no circle between modules or
between subpackages, function-level imports included), the layers hold, functions fit on a
screen. The detector is shown to catch each of the four circles the code once had, on a
small copy of their imports built here."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "genesys_tui"
LONGEST_FUNCTION = 80
#: argparse option tables: long by nature, read as a list
OPTION_TABLES = {"register", "add_arguments", "build_parser"}
#: top-level names a layer must never import, function-level imports included
FORBIDDEN = {
    "agents": {"torch", "textual"},
    "store": {"torch", "textual"},
    "config": {"torch", "textual"},
    "errors": {"torch", "textual"},
    "design": {"torch", "textual"},
    "parsing": {"torch", "textual"},
    "ladder": {"textual"},
}


def modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package at ``root``."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imported_names(module: str, path: Path) -> set[str]:
    """Every module name ``path`` imports, anywhere in the file, relative imports resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names)
    return names


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (a package's __init__ importing its own
    submodules is not an arrow: that is how a package exposes them)."""
    mods = modules(root)
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for m, path in mods.items():
        for name in imported_names(m, path):
            while name and name not in mods:
                name = name.rpartition(".")[0]
            own_part = path.name == "__init__.py" and name.startswith(m + ".")
            if name and name != m and not own_part and not m.startswith(name + "."):
                edges[m].add(name)
    return edges


def package_graph(edges: dict[str, set[str]]) -> dict[str, set[str]]:
    """The same arrows between subpackages (``genesys_tui.checker``) and top modules."""

    def top(m: str) -> str:
        return ".".join(m.split(".")[:2])

    out: dict[str, set[str]] = {}
    for m, targets in edges.items():
        for t in targets:
            if top(m) != top(t):
                out.setdefault(top(m), set()).add(top(t))
    return out


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    nodes = set(edges) | {t for ts in edges.values() for t in ts}

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return found


def test_no_two_modules_import_each_other_even_inside_functions() -> None:
    assert circles(import_graph(PACKAGE)) == []


def test_no_two_subpackages_import_each_other() -> None:
    assert circles(package_graph(import_graph(PACKAGE))) == []


def test_each_layer_imports_only_what_it_may() -> None:
    offenders = []
    for module, path in modules(PACKAGE).items():
        parts = module.split(".")
        layer = parts[1] if len(parts) > 1 else ""
        tops = {n.split(".")[0] for n in imported_names(module, path)}
        if "textual" in tops and layer != "tui":
            offenders.append(f"{module} imports textual (only genesys_tui.tui may)")
        for name in sorted(tops & FORBIDDEN.get(layer, set())):
            offenders.append(f"{module} imports {name}")
    assert offenders == []


def _long_functions(paths: Iterable[Path], root: Path = PACKAGE) -> list[str]:
    out = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > LONGEST_FUNCTION and node.name not in OPTION_TABLES:
                    out.append(f"{path.relative_to(root)}:{node.lineno} {node.name} ({length})")
    return out


def test_every_function_fits_on_a_screen() -> None:
    assert _long_functions(modules(PACKAGE).values()) == []


def test_every_module_says_first_what_it_holds() -> None:
    missing = [
        m for m, p in modules(PACKAGE).items() if not ast.get_docstring(ast.parse(p.read_text()))
    ]
    assert missing == []


# ---- the detector, on the four circles the code once had -----------------------------------

OLD_CIRCLES = {
    "stages and their runner": {
        "checker/__init__.py": "",
        "checker/runtime.py": "def stages():\n    from pkg.checker.perf import stage_speed\n",
        "checker/perf.py": "from pkg.checker.runtime import RuntimeContext\n",
    },
    "repository, library import and index upkeep": {
        "store/__init__.py": "",
        "store/repo.py": "from pkg.store import upkeep\n"
        "def create():\n    from pkg.store.library import import_library\n",
        "store/library.py": "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from pkg.store.repo import DesignsRepo\n",
        "store/upkeep.py": "def refresh():\n    from pkg.store.repo import DesignsRepo\n",
    },
    "the loop's session and the LLM agents": {
        "evolve/__init__.py": "",
        "evolve/session.py": "def make():\n    from pkg.agents.factory import make_llm\n",
        "evolve/designer.py": "class Designer: ...\n",
        "agents/__init__.py": "",
        "agents/factory.py": "from pkg.agents.designer import LLMDesigner\n",
        "agents/designer.py": "from pkg.evolve.designer import Designer\n",
    },
    "verifier and checker over the ladder": {
        "verify/__init__.py": "",
        "verify/verify.py": "from pkg.checker import check_design\n",
        "verify/ladder.py": "",
        "checker/__init__.py": "",
        "checker/settings.py": "def rung():\n    from pkg.verify.ladder import find_rung\n",
    },
}


@pytest.mark.parametrize("case", list(OLD_CIRCLES), ids=list(OLD_CIRCLES))
def test_the_detector_finds_each_circle_the_code_once_had(tmp_path: Path, case: str) -> None:
    root = tmp_path / "pkg"
    for rel, text in {"__init__.py": "", **OLD_CIRCLES[case]}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text('"""A module of the fixture."""\n' + text)
    edges = import_graph(root)
    assert circles(edges) or circles(package_graph(edges))


def test_the_detector_finds_long_functions(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(LONGEST_FUNCTION))
    (tmp_path / "long.py").write_text(f"def long():\n{body}\n")
    (tmp_path / "table.py").write_text(f"def register():\n{body}\n")
    found = _long_functions([tmp_path / "long.py", tmp_path / "table.py"], tmp_path)
    assert found == [f"long.py:1 long ({LONGEST_FUNCTION + 1})"]
