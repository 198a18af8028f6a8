"""Helpers for the checker's tests: the broken-design fixtures (overlays on library/gpt, made
whole by ``materialize``), and GPT variants whose MLP runs one extra statement in forward (the
way a sandbox escape would be written)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from genesys_tui.checker import CheckConfig
from genesys_tui.design import Design, load_design

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REPO = Path(__file__).resolve().parents[2]
GPT = REPO / "library" / "gpt"

#: Stages up to overfitting: enough for every finding except speed, in a fraction of the time.
FAST = CheckConfig(skip=("speed",))


def materialize(name: str, dest: Path) -> Path:
    """The whole design of fixture ``name``, at ``dest / name``: library/gpt copied there, then
    the fixture's files laid over it (a fixture holds only what differs; see fixtures/README.md).
    """
    fixture = FIXTURES / name
    if not fixture.is_dir():
        raise FileNotFoundError(f"no fixture {name!r} in {FIXTURES}")
    out = dest / name
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(GPT, out, ignore=skip)
    shutil.copytree(fixture, out, ignore=skip, dirs_exist_ok=True)
    return out


def gpt_variant(tmp_path: Path, statement: str, name: str = "variant") -> Design:
    """library/gpt with ``statement`` (one or more lines) run at the start of MLP.forward."""
    design = load_design(GPT)
    body = "\n".join(f"        {line}" for line in statement.splitlines())
    source = design.sources["units/mlp.py"].replace(
        "    def forward(self, X, **Z):\n", f"    def forward(self, X, **Z):\n{body}\n"
    )
    assert source != design.sources["units/mlp.py"]
    sources = {**design.sources, "units/mlp.py": source}
    out = tmp_path / name
    dataclasses.replace(design, name=name, sources=sources).save(out)
    return load_design(out)


@pytest.fixture
def variant(tmp_path: Path):  # type: ignore[no-untyped-def]
    """``variant(statement)`` -> a loaded GPT variant saved under tmp_path."""
    counter = iter(range(1000))
    return lambda statement: gpt_variant(tmp_path, statement, f"variant{next(counter)}")
