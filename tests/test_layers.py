"""The layer rules of ARCHITECTURE.md, checked on the tree as it stands.

Nothing outside genesys_tui/tui imports textual; agents/ and store/ never import torch; the
headless, plain-data modules import neither.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "genesys_tui"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _files(sub: str = "") -> list[Path]:
    return sorted((PACKAGE / sub).rglob("*.py")) if (PACKAGE / sub).exists() else []


def test_textual_is_imported_only_under_tui() -> None:
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in _files()
        if "textual" in _imports(p) and "tui" not in p.relative_to(PACKAGE).parts[:1]
    ]
    assert offenders == []


@pytest.mark.parametrize("layer", ["agents", "store"])
def test_text_layers_never_import_torch(layer: str) -> None:
    offenders = [str(p.relative_to(PACKAGE)) for p in _files(layer) if "torch" in _imports(p)]
    assert offenders == []


HEADLESS = [
    "genesys_tui",
    "genesys_tui.design",
    "genesys_tui.declarations",
    "genesys_tui.config",
    "genesys_tui.errors",
    "genesys_tui.resources",
    "genesys_tui.redaction",
    "genesys_tui.cli",
]
for _layer in ("store", "agents"):
    if (PACKAGE / _layer / "__init__.py").exists():
        HEADLESS += [f"genesys_tui.{_layer}"] + [
            f"genesys_tui.{_layer}.{p.stem}"
            for p in sorted((PACKAGE / _layer).glob("*.py"))
            if p.stem != "__init__"
        ]


def test_headless_modules_load_without_torch_or_textual() -> None:
    code = (
        "import importlib, json, sys\n"
        f"for m in {HEADLESS!r}: importlib.import_module(m)\n"
        "import genesys_tui.cli as c; c.build_parser()\n"
        "print(json.dumps(sorted(k for k in sys.modules if k.split('.')[0] in "
        "{'torch', 'textual'})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
