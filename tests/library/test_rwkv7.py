"""RWKV-7: the chunked generalized delta rule equals the token-by-token recurrence.

Outputs and gradients are compared in float64, for the core operation and for the whole time-mix
unit (token shift, LoRAs, value residual, group norm, bonus, gate), across ragged chunkings.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import pytest
import torch
import torch.nn.functional as F

from genesys_tui.design import load_design
from genesys_tui.units.base import BuildContext
from genesys_tui.units.build import unit_class
from genesys_tui.units.loader import load_namespace
from tests.conftest import LIBRARY

from .naive_rwkv7 import naive_rwkv7_recurrence, naive_rwkv7_time_mix

DESIGN = load_design(LIBRARY / "rwkv7")
SOURCE = LIBRARY / "rwkv7" / "units" / "rwkv7_time_mix.py"
NAMESPACE = load_namespace(SOURCE.read_text(encoding="utf-8"), str(SOURCE))
rwkv7_chunked = NAMESPACE["rwkv7_chunked"]
lora_rank = NAMESPACE["lora_rank"]
RWKV7TimeMix = unit_class(DESIGN, "time_mix")
RWKV7ChannelMix = unit_class(DESIGN, "channel_mix")
F64 = torch.float64


def _grads(
    fn: Callable[[], torch.Tensor | tuple[torch.Tensor, ...]],
    inputs: Sequence[torch.Tensor],
    seed: int,
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """fn's outputs and the gradients of a fixed random projection of them w.r.t. ``inputs``."""
    outs = fn()
    outs = list(outs) if isinstance(outs, tuple) else [outs]
    gen = torch.Generator().manual_seed(seed)
    total = sum((o * torch.randn(o.shape, dtype=o.dtype, generator=gen)).sum() for o in outs)
    grads = torch.autograd.grad(total, list(inputs), allow_unused=True)
    zero = [torch.zeros_like(x) if g is None else g for x, g in zip(inputs, grads, strict=True)]
    return [o.detach() for o in outs], zero


def _delta_inputs(b: int, T: int, h: int, n: int, seed: int, dtype=F64) -> list[torch.Tensor]:
    """r, log_w, k, v, a = -kappa, b = kappa * iclr, shaped and ranged as RWKV-7 makes them."""
    g = torch.Generator().manual_seed(seed)
    r, k, v = (torch.randn(b, T, h, n, generator=g, dtype=dtype) for _ in range(3))
    log_w = -math.exp(-0.5) * torch.rand(b, T, h, n, generator=g, dtype=dtype)
    kappa = F.normalize(torch.randn(b, T, h, n, generator=g, dtype=dtype), dim=-1)
    iclr = torch.rand(b, T, h, n, generator=g, dtype=dtype)
    return [t.requires_grad_() for t in (r, log_w, k, v, -kappa, kappa * iclr)]


CORE_CASES = [
    pytest.param(1, 1, 1, 4, 4, id="B1-T1-H1-N4-L4"),
    pytest.param(2, 37, 3, 8, 8, id="B2-T37-H3-N8-L8-ragged"),
    pytest.param(1, 64, 2, 16, 32, id="B1-T64-H2-N16-L32-exact"),
    pytest.param(3, 50, 2, 8, 64, id="B3-T50-H2-N8-L64-one-partial-chunk"),
    pytest.param(2, 20, 4, 4, 1, id="B2-T20-H4-N4-L1-step-by-step"),
]


@pytest.mark.parametrize(("b", "T", "h", "n", "L"), CORE_CASES)
def test_chunked_delta_rule_matches_recurrence_in_values_and_gradients(
    b: int, T: int, h: int, n: int, L: int
) -> None:
    inputs = _delta_inputs(b, T, h, n, seed=T)
    fast, fast_grads = _grads(lambda: rwkv7_chunked(*inputs, chunk_size=L), inputs, seed=1)
    slow, slow_grads = _grads(lambda: naive_rwkv7_recurrence(*inputs), inputs, seed=1)
    for name, x, y in zip(("output", "final state"), fast, slow, strict=True):
        torch.testing.assert_close(x, y, rtol=1e-9, atol=1e-10, msg=lambda m, n=name: f"{n}: {m}")
    for name, x, y in zip(("r", "log_w", "k", "v", "a", "b"), fast_grads, slow_grads, strict=True):
        torch.testing.assert_close(x, y, rtol=1e-9, atol=1e-10, msg=lambda m, n=name: f"d{n}: {m}")


@pytest.mark.parametrize("L", [16, 32, 64], ids=lambda L: f"L{L}")
def test_chunked_delta_rule_in_float32_stays_close_to_float64(L: int) -> None:
    inputs = [t.detach() for t in _delta_inputs(1, 300, 2, 16, seed=7)]
    exact, _ = naive_rwkv7_recurrence(*inputs)
    approx, _ = rwkv7_chunked(*(t.float() for t in inputs), chunk_size=L)
    assert approx.dtype == torch.float32
    err = (approx.double() - exact).abs().max() / exact.abs().max()
    assert err < 1e-5, f"relative error {err:.2e} at chunk {L}"


def _time_mix(layer: int, d: int, heads: int, L: int, seed: int) -> torch.nn.Module:
    ctx = BuildContext(d_model=d, n_layers=3, layer_idx=layer, context_length=64, vocab_size=10)
    torch.manual_seed(seed)
    unit = RWKV7TimeMix(ctx, n_heads=heads, chunk_size=L).double()
    # Move off the init (zero LoRA factors, constant gate) so every path carries signal.
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in unit.parameters():
            p.add_(0.2 * torch.randn(p.shape, dtype=p.dtype, generator=gen))
    return unit


UNIT_CASES = [
    pytest.param(0, 1, 2, 32, 1, 8, id="layer0-B1-T1-D32-H1"),
    pytest.param(0, 2, 21, 32, 2, 8, id="layer0-B2-T21-D32-H2-ragged"),
    pytest.param(1, 2, 21, 32, 4, 8, id="layer1-B2-T21-D32-H4-value-residual"),
    pytest.param(2, 1, 40, 48, 3, 16, id="layer2-B1-T40-D48-H3"),
]


@pytest.mark.parametrize(("layer", "b", "T", "d", "heads", "L"), UNIT_CASES)
def test_time_mix_unit_matches_token_by_token_reference(
    layer: int, b: int, T: int, d: int, heads: int, L: int
) -> None:
    unit = _time_mix(layer, d, heads, L, seed=layer)
    gen = torch.Generator().manual_seed(T)
    X = torch.randn(b, T, d, dtype=F64, generator=gen).requires_grad_()
    v_first = torch.randn(b, T, d, dtype=F64, generator=gen).requires_grad_() if layer else None
    Z = {} if v_first is None else {"v_first": v_first}
    inputs = [X, *([v_first] if layer else []), *unit.parameters()]

    def fast() -> tuple[torch.Tensor, torch.Tensor]:
        Y, Z_out = unit(X, **Z)
        return Y, Z_out["v_first"]

    (Y, vf), fast_grads = _grads(fast, inputs, seed=2)
    (Y_ref, vf_ref), slow_grads = _grads(lambda: naive_rwkv7_time_mix(unit, X, v_first), inputs, 2)
    torch.testing.assert_close(Y, Y_ref, rtol=1e-9, atol=1e-11)
    torch.testing.assert_close(vf, vf_ref, rtol=1e-12, atol=1e-14)
    names = ["X", *(["v_first"] if layer else []), *(n for n, _ in unit.named_parameters())]
    for name, x, y in zip(names, fast_grads, slow_grads, strict=True):
        torch.testing.assert_close(x, y, rtol=1e-8, atol=1e-10, msg=lambda m, n=name: f"d{n}: {m}")


def test_first_layer_hands_its_value_to_later_layers_through_z() -> None:
    first, later = _time_mix(0, 32, 2, 8, seed=0), _time_mix(1, 32, 2, 8, seed=1)
    X = torch.randn(2, 12, 32, dtype=F64, generator=torch.Generator().manual_seed(0))
    H, Z = first(X)
    assert set(Z) == {"v_first"} and Z["v_first"].shape == X.shape
    Y, Z2 = later(X + H, **Z)
    assert Z2["v_first"] is Z["v_first"], "later layers must pass v_first on unchanged"
    # The later layer reads it: the first layer's value weights get a gradient through Z only.
    grad = torch.autograd.grad(Y.sum(), first.value.weight)[0]
    assert grad.abs().sum() > 0
    assert not hasattr(first, "v0"), "layer 0 never mixes v_first in, so owns no residual gate"


def test_time_mix_is_causal_through_the_output_and_v_first() -> None:
    unit = _time_mix(0, 32, 2, 8, seed=3)
    gen = torch.Generator().manual_seed(1)
    X = torch.randn(1, 30, 32, dtype=F64, generator=gen)
    changed = X.clone()
    changed[:, 13:] = torch.randn(1, 17, 32, dtype=F64, generator=gen)
    (Y1, Z1), (Y2, Z2) = unit(X), unit(changed)
    torch.testing.assert_close(Y1[:, :13], Y2[:, :13], rtol=0, atol=1e-12)
    torch.testing.assert_close(Z1["v_first"][:, :13], Z2["v_first"][:, :13], rtol=0, atol=1e-12)
    assert not torch.allclose(Y1[:, 13:], Y2[:, 13:])


def test_channel_mix_reads_only_the_current_and_previous_token() -> None:
    ctx = BuildContext(d_model=16, n_layers=2, layer_idx=1, context_length=16, vocab_size=10)
    torch.manual_seed(0)
    unit = RWKV7ChannelMix(ctx).double()
    X = torch.randn(2, 9, 16, dtype=F64, generator=torch.Generator().manual_seed(0))
    Y, _ = unit(X)
    prev = torch.cat([torch.zeros_like(X[:, :1]), X[:, :-1]], 1)
    k = X + (prev - X) * unit.x_k
    expected = torch.relu(k @ unit.key.weight.T) ** 2 @ unit.out_proj.weight.T
    torch.testing.assert_close(Y, expected, rtol=1e-12, atol=1e-12)


def test_decay_init_spreads_channels_and_slows_with_depth() -> None:
    """The reference init: decays run from slow to fast across channels, and slow with depth."""
    decays = []
    for layer in (0, 5):
        ctx = BuildContext(d_model=64, n_layers=6, layer_idx=layer, context_length=8, vocab_size=8)
        unit = RWKV7TimeMix(ctx, n_heads=1)
        decays.append(torch.exp(-math.exp(-0.5) * torch.sigmoid(unit.w0)))
    shallow, deep = decays
    assert shallow.min() > math.exp(-math.exp(-0.5)) and shallow.max() < 1
    assert shallow[:8].mean() > shallow[-8:].mean()  # early channels remember longest
    assert deep.mean() > shallow.mean()  # deeper layers remember longer


@pytest.mark.parametrize(
    ("d", "expected"),
    [(64, (8, 8, 8, 8)), (256, (32, 32, 32, 64)), (768, (64, 64, 32, 128))],
    ids=["D64-toy", "D256", "D768-paper-0.1B"],
)
def test_lora_ranks_follow_the_paper_at_its_widths(d: int, expected: tuple[int, ...]) -> None:
    assert tuple(lora_rank(d, f) for f in (2.5, 2.5, 1.7, 5.0)) == expected


def test_bf16_autocast_runs_the_recurrence_in_float32_and_stays_close() -> None:
    unit = _time_mix(1, 32, 2, 8, seed=5).float()
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(2, 40, 32, generator=gen)
    v_first = torch.randn(2, 40, 32, generator=gen)
    ref, _ = unit(X, v_first=v_first)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        Y, _ = unit(X, v_first=v_first)
    assert torch.isfinite(Y).all()
    assert (Y.float() - ref).abs().max() < 0.05 * ref.abs().max()
