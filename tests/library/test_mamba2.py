"""Mamba-2: the chunked SSD computation equals the plain recurrence, in values and gradients."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import pytest
import torch
import torch.nn.functional as F

from genesys_tui.design import load_design
from genesys_tui.units.base import BuildContext
from genesys_tui.units.build import unit_class
from genesys_tui.units.loader import load_namespace
from tests.conftest import LIBRARY

from .naive_mamba2 import mamba2_recurrent, ssd_recurrent

DESIGN = load_design(LIBRARY / "mamba2")
SOURCE = LIBRARY / "mamba2" / "units" / "mamba2.py"
ssd_chunked = load_namespace(SOURCE.read_text(encoding="utf-8"), str(SOURCE))["ssd_chunked"]
Mamba2 = unit_class(DESIGN, "ssm")
F64 = torch.float64


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    # Tiny float64 ops gain nothing from threads and stall on a shared machine's busy cores.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _grads(
    fn: Callable[..., torch.Tensor], inputs: Sequence[torch.Tensor], seed: int
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """fn's output and the gradients of a fixed random projection of it w.r.t. ``inputs``."""
    out = fn()
    probe = torch.randn(out.shape, dtype=out.dtype, generator=torch.Generator().manual_seed(seed))
    grads = torch.autograd.grad((out * probe).sum(), list(inputs))
    return out.detach(), list(grads)


def _ssd_inputs(
    b: int, T: int, h: int, p: int, n: int, shared_bc: bool, seed: int
) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    hb = 1 if shared_bc else h
    X = torch.randn(b, T, h, p, generator=g, dtype=F64)
    A = -torch.rand(b, T, h, generator=g, dtype=F64) * 0.5  # log decays, dt * A <= 0
    B = torch.randn(b, T, hb, n, generator=g, dtype=F64)
    C = torch.randn(b, T, hb, n, generator=g, dtype=F64)
    return [t.requires_grad_() for t in (X, A, B, C)]


SSD_CASES = [
    pytest.param(1, 1, 1, 2, 3, 4, True, id="B1-T1-H1-L4"),
    pytest.param(2, 37, 3, 4, 5, 8, True, id="B2-T37-H3-L8-ragged"),
    pytest.param(1, 64, 4, 3, 4, 16, True, id="B1-T64-H4-L16-exact"),
    pytest.param(3, 50, 2, 2, 3, 64, True, id="B3-T50-H2-L64-one-partial-chunk"),
    pytest.param(2, 20, 2, 3, 4, 8, False, id="B2-T20-H2-L8-BC-per-head"),
]


@pytest.mark.parametrize(("b", "T", "h", "p", "n", "L", "shared_bc"), SSD_CASES)
def test_ssd_chunked_matches_recurrence_in_values_and_gradients(
    b: int, T: int, h: int, p: int, n: int, L: int, shared_bc: bool
) -> None:
    inputs = _ssd_inputs(b, T, h, p, n, shared_bc, seed=T)
    Y, grads = _grads(lambda: ssd_chunked(*inputs, L)[0], inputs, seed=1)
    Y_ref, grads_ref = _grads(lambda: ssd_recurrent(*inputs)[0], inputs, seed=1)
    torch.testing.assert_close(Y, Y_ref)
    for name, got, want in zip("XABC", grads, grads_ref, strict=True):
        torch.testing.assert_close(got, want, msg=lambda m, name=name: f"d/d{name}: {m}")


@pytest.mark.parametrize("T", [1, 13, 40], ids=lambda T: f"T{T}")
def test_ssd_final_state_carries_over_a_split_sequence(T: int) -> None:
    X, A, B, C = (t.detach() for t in _ssd_inputs(2, T, 3, 2, 4, True, seed=7))
    Y_all, state_all = ssd_chunked(X, A, B, C, 8)
    _, state_ref = ssd_recurrent(X, A, B, C)
    torch.testing.assert_close(state_all, state_ref)
    cut = T // 2
    Y1, s1 = ssd_chunked(X[:, :cut], A[:, :cut], B[:, :cut], C[:, :cut], 8)
    Y2, s2 = ssd_chunked(X[:, cut:], A[:, cut:], B[:, cut:], C[:, cut:], 8, initial_state=s1)
    torch.testing.assert_close(torch.cat([Y1, Y2], dim=1), Y_all)
    torch.testing.assert_close(s2, state_all)


def _unit(d_model: int, seed: int, **args: int | float) -> torch.nn.Module:
    ctx = BuildContext(d_model=d_model, n_layers=2, layer_idx=0, context_length=64, vocab_size=32)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Mamba2(ctx, **args).to(F64)


UNIT_CASES = [
    pytest.param(1, 1, 16, 8, 4, 8, id="B1-T1-D16-H4"),
    pytest.param(2, 21, 16, 8, 4, 8, id="B2-T21-D16-H4-ragged"),
    pytest.param(1, 24, 24, 16, 3, 4, id="B1-T24-D24-H3-L4"),
    pytest.param(2, 9, 8, 16, 1, 16, id="B2-T9-D8-H1-one-chunk"),
]


@pytest.mark.parametrize(("b", "T", "d", "head_dim", "n_heads", "L"), UNIT_CASES)
def test_mamba2_unit_matches_recurrence_in_values_and_gradients(
    b: int, T: int, d: int, head_dim: int, n_heads: int, L: int
) -> None:
    unit = _unit(d, seed=T, head_dim=head_dim, d_state=4, chunk_size=L)
    assert unit.n_heads == n_heads
    X = torch.randn(b, T, d, dtype=F64, generator=torch.Generator().manual_seed(3))
    X.requires_grad_()
    params = [X, *unit.parameters()]
    Y, grads = _grads(lambda: unit(X)[0], params, seed=2)
    Y_ref, grads_ref = _grads(lambda: mamba2_recurrent(unit, X), params, seed=2)
    torch.testing.assert_close(Y, Y_ref)
    names = ["X", *(name for name, _ in unit.named_parameters())]
    for name, got, want in zip(names, grads, grads_ref, strict=True):
        torch.testing.assert_close(got, want, msg=lambda m, name=name: f"d/d{name}: {m}")


def test_chunk_size_leaves_the_output_unchanged() -> None:
    small, large = _unit(16, seed=0, chunk_size=3), _unit(16, seed=0, chunk_size=32)
    X = torch.randn(2, 29, 16, dtype=F64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(small(X)[0], large(X)[0])


def test_init_spreads_steps_and_decays_over_the_papers_ranges() -> None:
    unit = _unit(64, seed=0, head_dim=8, dt_min=0.001, dt_max=0.1)
    dt = F.softplus(unit.dt_bias)
    assert ((dt >= 0.001 - 1e-9) & (dt <= 0.1 + 1e-9)).all()
    A = torch.exp(unit.A_log)
    assert ((A >= 1.0 - 1e-9) & (A <= 16.0 + 1e-9)).all()
    assert dt.std() > 0 and A.std() > 0  # heads start different, not all alike
    torch.testing.assert_close(unit.D, torch.ones_like(unit.D))


def test_head_dim_must_divide_the_inner_width() -> None:
    with pytest.raises(ValueError, match="multiple of head_dim"):
        _unit(16, seed=0, head_dim=12)
