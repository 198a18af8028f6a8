"""Fixtures for the agents' tests: fake API keys, a clean config home, parents, a designs
repository seeded with gpt and retnet, and the static checker as a fast CheckFn."""

from __future__ import annotations

from pathlib import Path

import pytest

from genesys_tui.agents.session import Verdict
from genesys_tui.design import Design, load_design
from genesys_tui.designer import Parent

ANTHROPIC_KEY = "sk-ant-test-0123456789abcdefSECRET"
OPENAI_KEY = "sk-test-openai-0123456789abcdefSECRET"
LOCAL_KEY = "local-server-key-0123456789SECRET"
KEYS = (ANTHROPIC_KEY, OPENAI_KEY, LOCAL_KEY)


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake keys in the environment; no real keys file can be read."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("GENESYS_OPENAI_COMPATIBLE_API_KEY", LOCAL_KEY)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("GENESYS_KEYS_FILE", raising=False)
    for name in ("SEMANTIC_SCHOLAR_API_KEY", "S2_API_KEY", "GENESYS_ARXIV"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def gpt_parent() -> Parent:
    return Parent("gpt-1", load_design("gpt"), "# GPT\n\nThe reference transformer.")


@pytest.fixture
def retnet_parent() -> Parent:
    return Parent("retnet-2", load_design("retnet"), "# RetNet\n\nMulti-scale retention.")


def static_check(design: Design) -> Verdict:
    """The checker's static stage only: a real check that runs no code (milliseconds)."""
    from genesys_tui.checker import check_static
    from genesys_tui.checker.report import CheckReport

    report = CheckReport(design.name, tuple(check_static(design)))
    errors = report.errors
    return Verdict(
        report.ok,
        report.format_for_agent(),
        tuple(f.file for f in errors if f.file),
        tuple(f.unit for f in errors if f.unit),
    )
