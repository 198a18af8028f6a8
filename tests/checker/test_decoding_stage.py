"""The decoding stage: a unit that declares it decodes with a cache but forgets its state is
rejected with a finding that names the stage; a design that recomputes is not examined."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from genesys_tui.checker import check_runtime
from genesys_tui.design import Design, load_design
from tests.checker.conftest import FAST, GPT

ATTN = "units/causal_self_attention.py"


def _variant(tmp_path: Path, old: str, new: str, name: str) -> Design:
    design = load_design(GPT)
    source = design.sources[ATTN].replace(old, new)
    assert source != design.sources[ATTN]
    dataclasses.replace(design, name=name, sources={**design.sources, ATTN: source}).save(
        tmp_path / name
    )
    return load_design(tmp_path / name)


def test_a_cache_that_forgets_the_past_is_rejected(tmp_path: Path) -> None:
    design = _variant(tmp_path, "cache = self.decoding()", "cache = None", "forgetful")
    findings, stages, _ = check_runtime(design, FAST)
    errors = [f for f in findings if f.is_error]
    assert [f.check for f in errors] == ["decoding"], [f.format() for f in findings]
    assert "CausalSelfAttention" in errors[0].message and "token" in errors[0].message
    assert "decoding" in stages


def test_a_design_that_recomputes_is_not_examined_and_passes(tmp_path: Path) -> None:
    design = _variant(tmp_path, '    decode = "cached"', '    decode = "recompute"', "plain")
    findings, stages, _ = check_runtime(design, FAST)
    assert not [f for f in findings if f.is_error], [f.format() for f in findings]
    assert "decoding" in stages
