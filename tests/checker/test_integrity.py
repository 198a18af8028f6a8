"""Hostile GPT variants that patch the process they run in, or grow parameters after the build:
each passes the static rules (the patch is reached through a call the syntax tree cannot
follow) and is rejected by the runtime integrity checks with a finding that names what changed.
Plus the tamper snapshot on its own, in this process."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from genesys_tui.checker import check_design, check_static, tamper
from tests.checker.conftest import FAST

# id -> (statement run first in MLP.forward, a name the tamper finding must give)
TAMPERING = {
    "loss-through-alias": (
        "m = next(iter([F]))\nm.cross_entropy = lambda *a, **k: torch.zeros(())",
        "torch.nn.functional.cross_entropy"),
    "tensor-method": (
        "T = next(iter([torch.Tensor]))\nT.softmax = lambda *a, **k: a[0]",
        "torch.Tensor.softmax"),
    "checker-function": (
        "import genesys_tui.units\ng = next(iter([genesys_tui]))\n"
        "g.checker.causality._leak = lambda *a, **k: None",
        "genesys_tui.checker.causality._leak"),
    "torch-function-mode-left-on": (
        "next(iter([torch.overrides.TorchFunctionMode]))().__enter__()",
        "torch function modes"),
    "global-module-hook": (
        "next(iter([torch.nn.modules.module]))"
        ".register_module_forward_hook(lambda m, i, o: o)",
        "torch.nn.modules.module._global_forward_hooks"),
}  # fmt: skip

# id -> (statement run first in MLP.forward, the name the late_parameter finding must give)
LATE = {
    "parameter-made-in-forward": (
        "if not hasattr(self, 'late_w'):\n"
        "    self.late_w = nn.Parameter(torch.ones(X.shape[-1]))\nX = X * self.late_w",
        "parameter mlp.late_w"),
    "buffer-made-in-forward": (
        "if not hasattr(self, 'late_buf'):\n"
        "    self.register_buffer('late_buf', torch.zeros(X.shape[-1]))\nX = X + self.late_buf",
        "buffer mlp.late_buf"),
    "submodule-made-in-forward": (
        "if not hasattr(self, 'extra'):\n"
        "    self.extra = nn.Linear(X.shape[-1], X.shape[-1])\nX = self.extra(X)",
        "parameter mlp.extra.weight"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(TAMPERING), ids=sorted(TAMPERING))
def test_patching_the_process_is_rejected(case: str, variant) -> None:  # type: ignore[no-untyped-def]
    statement, name = TAMPERING[case]
    design = variant("import torch\n" + statement)
    assert not [f for f in check_static(design) if f.is_error]  # the runtime net must catch it
    report = check_design(design, config=FAST)
    hits = [f for f in report.errors if f.check == "tamper"]
    assert hits, report.format_text()
    assert name in hits[0].message, hits[0].format()
    assert not report.ok


@pytest.mark.parametrize("case", sorted(LATE), ids=sorted(LATE))
def test_a_parameter_made_after_the_build_is_rejected(case: str, variant) -> None:  # type: ignore[no-untyped-def]
    statement, words = LATE[case]
    report = check_design(variant("import torch\n" + statement), config=FAST)
    hits = [f for f in report.errors if f.check == "late_parameter"]
    assert hits, report.format_text()
    assert words in hits[0].message and "after the model was built" in hits[0].message
    assert (hits[0].stage, hits[0].unit) == ("forward", "mlp"), hits[0].format()


def test_library_gpt_changes_nothing_and_keeps_its_parameters() -> None:
    report = check_design("gpt", config=FAST)
    assert report.ok, report.format_text()
    assert not [f for f in report.findings if f.check in ("tamper", "late_parameter")]


# ---- the snapshot, in this process ---------------------------------------------------------


def test_snapshot_sees_a_patched_function_and_its_restoration(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    before = tamper.snapshot()
    assert tamper.changed(before) == []
    monkeypatch.setattr(F, "cross_entropy", lambda *a, **k: torch.zeros(()))
    monkeypatch.setattr(torch.Tensor, "softmax", lambda *a, **k: None, raising=False)
    assert tamper.changed(before) == ["torch.Tensor.softmax", "torch.nn.functional.cross_entropy"]
    monkeypatch.undo()
    assert tamper.changed(before) == []


def test_snapshot_sees_swapped_code_and_an_added_method() -> None:
    from genesys_tui.checker import causality

    before = tamper.snapshot()
    code = causality._leak.__code__
    causality._leak.__code__ = (lambda a, b, points, tol: None).__code__
    torch.nn.Module.sneaky = lambda self: None  # type: ignore[attr-defined]
    try:
        assert tamper.changed(before) == [
            "genesys_tui.checker.causality._leak", "torch.nn.Module.sneaky (added)"]  # fmt: skip
    finally:
        causality._leak.__code__ = code
        del torch.nn.Module.sneaky  # type: ignore[attr-defined]
    assert tamper.changed(before) == []


def test_snapshot_sees_a_swapped_comparison_helper(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    before = tamper.snapshot()
    monkeypatch.setattr(tamper, "_compare", lambda snapshot: [])
    assert tamper.changed(before) == ["genesys_tui.checker.tamper (the tamper check itself)"]
