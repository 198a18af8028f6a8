"""Runtime checks on GPT variants broken in one way each: the finding names the failure and
the unit, in the stage that should catch it."""

from __future__ import annotations

import pytest
import torch

from genesys_tui.checker import check_runtime
from genesys_tui.checker.causality import probe_points
from tests.checker.conftest import FAST

# id -> (statement run first in MLP.forward, stage, check, severity, words in the message)
VARIANTS = {
    "leak-only-in-eval-mode": (
        "if not self.training:\n    X = X + X.mean(dim=1, keepdim=True)",
        "causality", "causality", "error", "eval mode"),
    "leak-in-z-nobody-reads": (
        "Z = {**Z, 'peek': X.flip(1)}", "causality", "causality", "warning", "Z['peek']"),
    "state-between-calls": (
        "if getattr(self, 'memory', None) is not None:\n    X = X + self.memory\n"
        "self.memory = X.detach()",
        "determinism", "determinism", "error", "second call"),
    "nan-in-backward": (
        "X = torch.where(X > 0, torch.sqrt(X), torch.zeros_like(X))",
        "gradients", "nan", "error", "NaN or Inf gradient"),
    "output-times-zero": (
        "X = X * 0.0", "overfit", "gradient", "error", "exactly zero gradient"),
    "unseeded-python-random": (
        "import random\nX = X * random.random()", "forward", "import", "error", "random"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(VARIANTS), ids=sorted(VARIANTS))
def test_variant_gets_its_finding(case: str, variant) -> None:  # type: ignore[no-untyped-def]
    statement, stage, check, severity, words = VARIANTS[case]
    if "torch." in statement:
        statement = "import torch\n" + statement
    design = variant(statement)
    if check == "import":  # the static rules stop it; the runtime must not crash on it either
        from genesys_tui.checker import check_design

        assert check_design(design).errors[0].check == "import"
        return
    findings, _, _ = check_runtime(design, FAST)
    hits = [f for f in findings if f.check == check]
    assert hits, [f.format() for f in findings]
    assert (hits[0].stage, hits[0].severity) == (stage, severity)
    assert words in hits[0].message
    assert hits[0].unit == "mlp", hits[0].format()


def test_hidden_trainable_tensor_is_found(variant) -> None:  # type: ignore[no-untyped-def]
    design = variant("pass")
    source = (
        design.sources["units/mlp.py"]
        .replace(
            "        self.dropout = nn",
            "        self.scale = torch.ones(ctx.d_model, requires_grad=True)\n"
            "        self.dropout = nn",
        )
        .replace(
            "import torch.nn.functional as F\n", "import torch\nimport torch.nn.functional as F\n"
        )
    )
    (design.path / "units" / "mlp.py").write_text(source)
    from genesys_tui.design import load_design

    findings, _, _ = check_runtime(load_design(design.path), FAST)
    assert [(f.check, f.unit) for f in findings if f.is_error] == [("hidden_parameter", "mlp")]


@pytest.mark.parametrize(("T", "n"), [(48, 4), (8, 3), (4, 8)], ids=["T48-n4", "T8-n3", "T4-n8"])
def test_probe_points_include_both_ends_and_are_distinct(T: int, n: int) -> None:
    points = probe_points(T, n, torch.Generator().manual_seed(0))
    assert points[0] == 0 and points[-1] == T - 2
    assert len(points) == len(set(points)) == min(n, T - 1)


def test_design_held_only_in_memory_is_located_too(variant) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    from genesys_tui.checker import check_design

    design = dataclasses.replace(variant("X = X / 0.0"), path=None)
    report = check_design(design, config=FAST)
    assert (report.errors[0].check, report.errors[0].file) == ("nan", "units/mlp.py")
