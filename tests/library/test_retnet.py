"""RetNet: chunkwise retention equals the recurrent form, in values and gradients."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import pytest
import torch

from genesys_tui.design import load_design
from genesys_tui.units.base import BuildContext
from genesys_tui.units.build import unit_class
from genesys_tui.units.loader import load_namespace
from tests.conftest import LIBRARY

from .naive_retnet import multi_scale_retention_recurrent, retention_recurrent

DESIGN = load_design(LIBRARY / "retnet")
SOURCE = LIBRARY / "retnet" / "units" / "multi_scale_retention.py"
retention_chunked = load_namespace(SOURCE.read_text(encoding="utf-8"), str(SOURCE))[
    "retention_chunked"
]
MultiScaleRetention = unit_class(DESIGN, "msr")
F64 = torch.float64


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    # Tiny float64 ops gain nothing from threads and stall on a shared machine's busy cores.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _grads(
    fn: Callable[[], torch.Tensor], inputs: Sequence[torch.Tensor], seed: int
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """fn's output and the gradients of a fixed random projection of it w.r.t. ``inputs``."""
    out = fn()
    probe = torch.randn(out.shape, dtype=out.dtype, generator=torch.Generator().manual_seed(seed))
    grads = torch.autograd.grad((out * probe).sum(), list(inputs))
    return out.detach(), list(grads)


def _papers_log_gamma(h: int) -> torch.Tensor:
    return torch.log(1.0 - torch.exp2(-5.0 - torch.arange(h, dtype=F64)))


RETENTION_CASES = [
    pytest.param(1, 1, 1, 2, 3, 4, id="B1-T1-H1-L4"),
    pytest.param(2, 37, 3, 4, 6, 8, id="B2-T37-H3-L8-ragged"),
    pytest.param(1, 64, 4, 4, 8, 16, id="B1-T64-H4-L16-exact"),
    pytest.param(3, 50, 2, 2, 4, 64, id="B3-T50-H2-L64-one-partial-chunk"),
    pytest.param(2, 70, 8, 2, 2, 4, id="B2-T70-H8-L4-many-chunks"),
]


@pytest.mark.parametrize(("b", "T", "h", "dk", "dv", "L"), RETENTION_CASES)
def test_retention_chunked_matches_recurrence_in_values_and_gradients(
    b: int, T: int, h: int, dk: int, dv: int, L: int
) -> None:
    g = torch.Generator().manual_seed(T)
    q = torch.randn(b, h, T, dk, dtype=F64, generator=g).requires_grad_()
    k = torch.randn(b, h, T, dk, dtype=F64, generator=g).requires_grad_()
    v = torch.randn(b, h, T, dv, dtype=F64, generator=g).requires_grad_()
    # Faster decays than the paper's too, so that the cross-chunk terms are not all near 1.
    log_gamma = (_papers_log_gamma(h) * 4.0).requires_grad_()
    inputs = [q, k, v, log_gamma]
    o, grads = _grads(lambda: retention_chunked(q, k, v, log_gamma, L), inputs, seed=1)
    o_ref, grads_ref = _grads(lambda: retention_recurrent(q, k, v, log_gamma), inputs, seed=1)
    torch.testing.assert_close(o, o_ref)
    for name, got, want in zip(["q", "k", "v", "log_gamma"], grads, grads_ref, strict=True):
        torch.testing.assert_close(got, want, msg=lambda m, name=name: f"d/d{name}: {m}")


def _unit(d_model: int, seed: int, **args: int | float) -> torch.nn.Module:
    ctx = BuildContext(d_model=d_model, n_layers=2, layer_idx=0, context_length=64, vocab_size=32)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MultiScaleRetention(ctx, **args).to(F64)


UNIT_CASES = [
    pytest.param(1, 1, 16, 2, 8, id="B1-T1-D16-H2"),
    pytest.param(2, 21, 16, 2, 8, id="B2-T21-D16-H2-ragged"),
    pytest.param(1, 24, 24, 3, 4, id="B1-T24-D24-H3-L4"),
    pytest.param(2, 9, 8, 1, 16, id="B2-T9-D8-H1-one-chunk"),
    pytest.param(1, 80, 32, 4, 16, id="B1-T80-D32-H4-beyond-context"),
]


@pytest.mark.parametrize(("b", "T", "d", "n_heads", "L"), UNIT_CASES)
def test_retention_unit_matches_recurrence_in_values_and_gradients(
    b: int, T: int, d: int, n_heads: int, L: int
) -> None:
    unit = _unit(d, seed=T, n_heads=n_heads, chunk_size=L)
    with torch.no_grad():  # a non-trivial GroupNorm affine, so its gradient path is exercised
        unit.norm_weight.normal_(1.0, 0.1, generator=torch.Generator().manual_seed(4))
        unit.norm_bias.normal_(0.0, 0.1, generator=torch.Generator().manual_seed(5))
    if unit.cos.shape[0] < T:  # the naive form reads the tables; extend them as the unit does
        unit.cos, unit.sin = (t.to(F64) for t in _tables(unit, T))
    X = torch.randn(b, T, d, dtype=F64, generator=torch.Generator().manual_seed(3))
    X.requires_grad_()
    params = [X, *unit.parameters()]
    Y, grads = _grads(lambda: unit(X)[0], params, seed=2)
    Y_ref, grads_ref = _grads(lambda: multi_scale_retention_recurrent(unit, X), params, seed=2)
    torch.testing.assert_close(Y, Y_ref)
    names = ["X", *(name for name, _ in unit.named_parameters())]
    for name, got, want in zip(names, grads, grads_ref, strict=True):
        torch.testing.assert_close(got, want, msg=lambda m, name=name: f"d/d{name}: {m}")


def _tables(unit: torch.nn.Module, T: int) -> tuple[torch.Tensor, torch.Tensor]:
    rotary_tables = load_namespace(SOURCE.read_text(encoding="utf-8"), str(SOURCE))["rotary_tables"]
    return rotary_tables(T, unit.key_dim, unit.rope_base, None)


def test_chunk_size_leaves_the_output_unchanged() -> None:
    small, large = _unit(16, seed=0, chunk_size=3), _unit(16, seed=0, chunk_size=32)
    X = torch.randn(2, 29, 16, dtype=F64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(small(X)[0], large(X)[0])


@pytest.mark.parametrize("n_heads", [1, 4, 8], ids=lambda h: f"H{h}")
def test_heads_decay_at_the_papers_rates(n_heads: int) -> None:
    unit = _unit(32, seed=0, n_heads=n_heads)
    gamma = torch.exp(unit.log_gamma)
    want = 1.0 - 2.0 ** (-5.0 - torch.arange(n_heads, dtype=F64))
    torch.testing.assert_close(gamma, want)
    assert gamma[0].item() == pytest.approx(0.96875)


def test_heads_must_split_d_model_evenly() -> None:
    with pytest.raises(ValueError, match="heads of even size"):
        _unit(16, seed=0, n_heads=3)
