"""Causality as the model is trained: GPT variants that are causal at the checker's tiny length
(and in float64, and without gradients) but leak at the lengths, in the dtype or in the grad
mode of training. The tiny probe alone (``causality_lengths=()``, the checker as it was) passes
each of them; the probe at the trained lengths rejects each, naming the length and the unit."""

from __future__ import annotations

import dataclasses

import pytest

from genesys_tui.checker import check_design
from genesys_tui.checker.causality import probe_lengths
from tests.checker.conftest import FAST

# The causality stage at the tiny probe length alone. (The decoding stage would also catch a
# leak in a unit that declares it decodes position by position, as the library MLP does: its
# token-by-token logits differ from the forward's. These tests are about causality's probes.)
TINY_ONLY = dataclasses.replace(FAST, causality_lengths=(), skip=(*FAST.skip, "decoding"))

# id -> (statement run first in MLP.forward, words the finding's message must hold)
LEAKS = {
    "only-beyond-128-tokens": (
        "if X.shape[1] > 128:\n    X = X + X.mean(dim=1, keepdim=True)",
        "sequence length 129"),
    "only-past-position-128": (
        "if X.shape[1] > 128:\n    X = torch.cat([X[:, :128], X[:, 128:].flip(1)], dim=1)",
        "sequence length"),
    "only-with-gradients-on": (
        "if torch.is_grad_enabled() and X.shape[1] > 48:\n    X = X + X.flip(1)",
        "with gradients on"),
    "only-in-float32": (
        "if X.dtype == torch.float32:\n    X = X + X.mean(dim=1, keepdim=True)",
        "sequence length 63"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(LEAKS), ids=sorted(LEAKS))
def test_a_leak_only_in_training_conditions_is_caught(case: str, variant) -> None:  # type: ignore[no-untyped-def]
    statement, words = LEAKS[case]
    design = variant("import torch\n" + statement)
    assert check_design(design, config=TINY_ONLY).ok  # the tiny probe alone is fooled
    report = check_design(design, config=FAST)
    hits = [f for f in report.errors if f.check == "causality"]
    assert hits, report.format_text()
    assert words in hits[0].message, hits[0].format()
    assert (hits[0].stage, hits[0].unit) == ("causality", "mlp"), hits[0].format()


def test_the_lengths_probed_straddle_each_boundary_up_to_the_full_context() -> None:
    bounds = (64, 128, 256, 512)
    assert probe_lengths(256, bounds, 48) == [63, 65, 127, 129, 255, 256]
    assert probe_lengths(2048, bounds, 131) == [63, 65, 127, 129, 255, 257, 511, 513, 2048]
    assert probe_lengths(128, bounds, 48) == [63, 65, 127, 128]
    assert probe_lengths(2048, (), 48) == []


def test_a_rung_sets_the_full_length_and_gpt_passes_there() -> None:
    report = check_design("gpt", rung="cpu-m", config=FAST)
    assert report.ok, report.format_text()
    assert report.figures["causality_lengths"] == "63,65,127,129,255,256"
