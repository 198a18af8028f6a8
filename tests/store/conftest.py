"""Fixtures of the store tests: a fresh namespace with the library seeds, real design files."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from genesys_tui.store.repo import DesignsRepo

REPO_ROOT = Path(__file__).resolve().parents[2]
GPT = REPO_ROOT / "library" / "gpt"


def gpt_files() -> dict[str, str]:
    """The GPT reference design as a mapping of relative path -> text."""
    return {
        p.relative_to(GPT).as_posix(): p.read_text()
        for p in GPT.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def mutated(files: dict[str, str], expand: int = 2, n_heads: int | None = None) -> dict[str, str]:
    """A real, loadable variant of ``files``: MLP expansion (and optionally heads) changed."""
    data = json.loads(files["design.json"])
    data["units"]["mlp"]["args"]["expand"] = expand
    if n_heads is not None:
        data["units"]["attn"]["args"]["n_heads"] = n_heads
    return {**files, "design.json": json.dumps(data, indent=2) + "\n"}


@pytest.fixture
def ns_path(tmp_path: Path) -> Path:
    return tmp_path / "designs" / "run"


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One namespace with the library seeds, made once: importing validates every seed."""
    path = tmp_path_factory.mktemp("template") / "run"
    DesignsRepo.create(path).close()
    return path


@pytest.fixture
def repo(ns_path: Path, seeded_template: Path) -> Iterator[DesignsRepo]:
    """A namespace holding the library seeds (a copy of the template), open as the writer."""
    shutil.copytree(seeded_template, ns_path, symlinks=True)
    r = DesignsRepo.open(ns_path, writer=True)
    yield r
    r.close()
