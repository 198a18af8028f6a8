"""Every broken fixture (an overlay on library/gpt, see fixtures/README.md) is rejected with the
finding it should get, pointing at the right unit; every library design passes with no error."""

from __future__ import annotations

from pathlib import Path

import pytest

from genesys_tui.checker import CheckConfig, check_design
from genesys_tui.resources import library_designs
from tests.checker.conftest import FAST, FIXTURES, GPT, materialize

# fixture -> (check of the first error, unit id it names or None, words the message contains)
BROKEN = {
    "attention_future_leak": ("causality", "attn", "logits at position"),
    "z_leak_between_blocks": ("causality", "block", "Z['summary']"),
    "cumsum_leak": ("causality", "running_mean", "logits at position"),
    "conv_symmetric_padding": ("causality", "conv_mixer", "logits at position"),
    "shape_change": ("shape", "mlp", "(2, 1, 64)"),
    "dead_parameter": ("gradient", "mlp", "mlp.gate"),
    "nan_forward": ("nan", "attn_norm", "NaN or Inf"),
    "param_bloat": ("param_budget", "mlp", "3.00x"),
    "banned_import": ("banned_import", "mlp", "'os'"),
    "slow_design": ("speed", None, "training step"),
}


# causality fixture -> text of the line the leak is traced to
LEAK_LINES = {
    "attention_future_leak": "is_causal=False",
    "z_leak_between_blocks": "X.mean(dim=1",
    "cumsum_leak": "(prefix / counts) @ v",
    "conv_symmetric_padding": "self.conv(",
}


def test_every_fixture_directory_is_listed() -> None:
    assert sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()) == sorted(BROKEN)


def test_every_fixture_file_differs_from_library_gpt() -> None:
    # A fixture holds only what it changes: a copy of a library/gpt file is dead weight.
    for path in sorted(FIXTURES.glob("*/**/*")):
        if path.is_file() and "__pycache__" not in path.parts:
            rel = path.relative_to(FIXTURES).parts[1:]
            base = GPT.joinpath(*rel)
            assert not base.is_file() or base.read_bytes() != path.read_bytes(), path


@pytest.mark.parametrize("name", sorted(BROKEN), ids=sorted(BROKEN))
def test_broken_fixture_is_rejected_with_its_finding(name: str, tmp_path: Path) -> None:
    check, unit, words = BROKEN[name]
    config = CheckConfig() if check == "speed" else FAST
    report = check_design(materialize(name, tmp_path), config=config)
    assert not report.ok
    error = report.errors[0]
    assert (error.check, error.unit) == (check, unit), error.format()
    assert words in error.message
    assert error.hint
    if unit is not None:
        assert error.file is not None and error.file.startswith("units/")
        assert error.line is not None
    if name in LEAK_LINES:
        assert error.code is not None and LEAK_LINES[name] in error.code


@pytest.mark.parametrize("path", library_designs(), ids=[p.name for p in library_designs()])
def test_library_design_passes_with_no_error(path) -> None:  # type: ignore[no-untyped-def]
    # Speed is measured for gpt only here: it is the reference, and the others' ratios are
    # figures of the note, not of a test that must pass on a loaded machine.
    config = CheckConfig() if path.name == "gpt" else FAST
    report = check_design(path, config=config)
    assert report.ok, report.format_for_agent()
    assert report.errors == []
    assert "overfit" in report.stages
