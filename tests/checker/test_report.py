"""CheckReport and Finding: the verdict, JSON both ways, and text a coder agent can act on."""

from __future__ import annotations

import json

import pytest

from genesys_tui.checker.report import ERROR, WARNING, CheckReport, Finding

LEAK = Finding("causality", ERROR, "logits at position 3 change", "mask the future", "causality",
               "units/attn.py", 27, "attn", "y = attend(q, k, v)")  # fmt: skip
SLOW = Finding("speed", WARNING, "1.7x the reference", "use a chunked form", "speed")


@pytest.mark.parametrize(
    ("findings", "ok"),
    [((), True), ((SLOW,), True), ((LEAK,), False), ((SLOW, LEAK), False)],
    ids=["none", "warning-only", "error", "warning-and-error"],
)
def test_ok_means_no_error(findings: tuple[Finding, ...], ok: bool) -> None:
    assert CheckReport("d", findings).ok is ok


def test_json_has_the_documented_fields_and_round_trips() -> None:
    report = CheckReport("d", (LEAK, SLOW), {"build": 0.1}, {"speed_ratio": 1.7}, "cpu-s", 3.0)
    data = json.loads(report.to_json())
    assert data["ok"] is False
    for f in data["findings"]:
        assert {"check", "severity", "message", "hint"} <= set(f)
    assert data["findings"][0]["location"] == "units/attn.py:27"
    assert CheckReport.from_dict(data) == report


def test_agent_text_gives_place_code_and_fix() -> None:
    text = CheckReport("d", (LEAK,)).format_for_agent()
    assert "rejected" in text
    assert "ERROR [causality] units/attn.py:27 (unit 'attn')" in text
    assert "at: y = attend(q, k, v)" in text
    assert "how to fix: mask the future" in text


def test_verbose_text_lists_stage_times() -> None:
    text = CheckReport("d", (), {"build": 0.25}, seconds=1.0).format_text(verbose=True)
    assert "build" in text and "0.25 s" in text and "total" in text


def test_unknown_severity_is_refused() -> None:
    with pytest.raises(ValueError, match="severity"):
        Finding("x", "fatal", "m")
