"""Every unit of every library design honours the unit contract at a tiny size."""

from __future__ import annotations

import pytest
import torch

from genesys_tui.design import load_design
from genesys_tui.resources import library_designs
from genesys_tui.units.base import BuildContext, Unit
from genesys_tui.units.build import build_unit

D, T, B = 64, 12, 2


def _units() -> list[tuple[str, str]]:
    return [(p.name, uid) for p in library_designs() for uid in load_design(p).units]


def _ctx() -> BuildContext:
    return BuildContext(d_model=D, n_layers=2, layer_idx=0, context_length=32, vocab_size=64)


def _run(design_name: str, uid: str, seed: int) -> tuple[torch.Tensor, dict]:
    design = load_design(design_name)
    torch.manual_seed(seed)
    unit = build_unit(design, uid, _ctx())
    for module in unit.modules():  # the scaffold's init hooks, as build_lm calls them
        if isinstance(module, Unit) and callable(getattr(module, "init_weights", None)):
            module.init_weights()
    X = torch.randn(B, T, D, generator=torch.Generator().manual_seed(seed))
    return unit(X)


@pytest.mark.parametrize(("design", "uid"), _units(), ids=[f"{d}-{u}" for d, u in _units()])
def test_unit_preserves_shape_returns_z_and_is_finite(design: str, uid: str) -> None:
    Y, Z = _run(design, uid, seed=0)
    assert Y.shape == (B, T, D)
    assert isinstance(Z, dict)
    assert torch.isfinite(Y).all()


@pytest.mark.parametrize(("design", "uid"), _units(), ids=[f"{d}-{u}" for d, u in _units()])
def test_unit_is_deterministic_under_a_seed(design: str, uid: str) -> None:
    Y1, _ = _run(design, uid, seed=3)
    Y2, _ = _run(design, uid, seed=3)
    Y3, _ = _run(design, uid, seed=4)
    torch.testing.assert_close(Y1, Y2, rtol=0, atol=0)
    assert not torch.equal(Y1, Y3)
