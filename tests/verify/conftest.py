"""Verifier data tests: offline Hugging Face, a temporary HF_HOME and token cache per test."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _offline_and_private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setenv("GENESYS_CACHE", str(tmp_path / "genesys_cache"))


@pytest.fixture
def available_wall():
    """The bubblewrap wall where it runs here, else the unsandboxed cell (same protocol, same
    audit): for the tests of what a walled verification's audit does."""
    from genesys_tui import wall

    wall.configure(sandbox=wall.probe() is None)
    yield
    wall.configure(sandbox=True)
    wall.close_spares()


def write_text_corpus(root: Path, n_txt: int = 40, n_jsonl_lines: int = 40) -> Path:
    """A small local corpus: ``n_txt`` .txt files and one .jsonl file, all distinct texts."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "sub").mkdir(exist_ok=True)
    for i in range(n_txt):
        (root / ("sub" if i % 2 else "") / f"doc{i:03d}.txt").write_text(
            f"Text file {i}. The cat {'sat' if i % 3 else 'ran'} on mat number {i * 7}.\n\nÉté {i}."
        )
    lines = [
        f'{{"text": "Line {j}: a jsonl document about the number {j * j}.", "n": {j}}}'
        for j in range(n_jsonl_lines)
    ]
    (root / "more.jsonl").write_text("\n".join(lines) + "\n")
    return root
