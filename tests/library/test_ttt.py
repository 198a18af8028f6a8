"""TTT-Linear: the dual form equals explicit mini-batch gradient descent, token by token.

Outputs and gradients are compared in float64, for the core operation (against a loop that takes
every inner gradient with autograd) and for the whole TTTLinear unit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
import torch

from genesys_tui.design import load_design
from genesys_tui.units.base import BuildContext
from genesys_tui.units.build import unit_class
from genesys_tui.units.loader import load_namespace
from tests.conftest import LIBRARY

from .naive_ttt import naive_ttt_layer, naive_ttt_linear

DESIGN = load_design(LIBRARY / "ttt")
SOURCE = LIBRARY / "ttt" / "units" / "ttt_linear.py"
NAMESPACE = load_namespace(SOURCE.read_text(encoding="utf-8"), str(SOURCE))
ttt_linear_dual = NAMESPACE["ttt_linear_dual"]
ln_l2_grad = NAMESPACE["ln_l2_grad"]
TTTLinear = unit_class(DESIGN, "ttt")
F64 = torch.float64
CORE_ARGS = ("q", "k", "v", "lr", "token_scale", "W0", "b0", "ln_weight", "ln_bias")


def _grads(
    fn: Callable[[], torch.Tensor], inputs: Sequence[torch.Tensor], seed: int
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """fn's output and the gradients of a fixed random projection of it w.r.t. ``inputs``."""
    out = fn()
    probe = torch.randn(out.shape, dtype=out.dtype, generator=torch.Generator().manual_seed(seed))
    grads = torch.autograd.grad((out * probe).sum(), list(inputs), allow_unused=True)
    zero = [torch.zeros_like(x) if g is None else g for x, g in zip(inputs, grads, strict=True)]
    return out.detach(), zero


def _core_inputs(b: int, h: int, T: int, n: int, K: int, seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)

    def randn(*shape: int, scale: float = 1.0) -> torch.Tensor:
        return scale * torch.randn(*shape, generator=g, dtype=F64)

    q, k, v = randn(b, h, T, n), randn(b, h, T, n), randn(b, h, T, n)
    lr = torch.rand(b, h, T, generator=g, dtype=F64)  # large steps: updates clearly matter
    token_scale = 1.0 / torch.arange(1, K + 1, dtype=F64) + randn(K, scale=0.1)
    W0, b0 = randn(h, n, n, scale=0.3), randn(h, n)
    ln_w, ln_b = 1.0 + randn(h, n, scale=0.1), randn(h, n, scale=0.1)
    return [t.requires_grad_() for t in (q, k, v, lr, token_scale, W0, b0, ln_w, ln_b)]


CORE_CASES = [
    pytest.param(1, 1, 1, 4, 4, id="B1-H1-T1-N4-K4"),
    pytest.param(2, 3, 37, 8, 8, id="B2-H3-T37-N8-K8-ragged"),
    pytest.param(2, 2, 32, 6, 16, id="B2-H2-T32-N6-K16-exact"),
    pytest.param(1, 2, 11, 4, 16, id="B1-H2-T11-N4-K16-one-partial-mini-batch"),
    pytest.param(3, 1, 9, 4, 1, id="B3-H1-T9-N4-K1-online-gd"),
]


@pytest.mark.parametrize(("b", "h", "T", "n", "K"), CORE_CASES)
def test_dual_form_matches_per_token_gradient_descent_in_values_and_gradients(
    b: int, h: int, T: int, n: int, K: int
) -> None:
    inputs = _core_inputs(b, h, T, n, K, seed=T)
    fast, fast_grads = _grads(lambda: ttt_linear_dual(*inputs, K), inputs, seed=1)
    slow, slow_grads = _grads(lambda: naive_ttt_linear(*inputs, K), inputs, seed=1)
    torch.testing.assert_close(fast, slow, rtol=1e-9, atol=1e-10)
    for name, x, y in zip(CORE_ARGS, fast_grads, slow_grads, strict=True):
        torch.testing.assert_close(x, y, rtol=1e-8, atol=1e-10, msg=lambda m, n=name: f"d{n}: {m}")


def test_inner_updates_change_the_output_so_the_comparison_can_fail() -> None:
    inputs = [t.detach() for t in _core_inputs(1, 2, 40, 8, 8, seed=0)]
    learning = ttt_linear_dual(*inputs, 8)
    frozen = ttt_linear_dual(inputs[0], inputs[1], inputs[2], torch.zeros_like(inputs[3]),
                             *inputs[4:], 8)  # fmt: skip
    q, W0, b0, ln_w, ln_b = inputs[0], *inputs[5:]
    normed = torch.nn.functional.layer_norm(q @ W0 + b0.unsqueeze(1), (8,), eps=1e-6)
    # With no inner steps every token reads W0; with them the outputs move clearly.
    torch.testing.assert_close(frozen, q + normed * ln_w.unsqueeze(1) + ln_b.unsqueeze(1))
    assert (learning - frozen).abs().max() > 1e-2


def test_layer_norm_l2_gradient_matches_autograd() -> None:
    g = torch.Generator().manual_seed(0)
    Z = torch.randn(3, 2, 5, 8, generator=g, dtype=F64, requires_grad=True)
    target = torch.randn(3, 2, 5, 8, generator=g, dtype=F64)
    weight = 1.0 + 0.1 * torch.randn(1, 2, 1, 8, generator=g, dtype=F64)
    bias = 0.1 * torch.randn(1, 2, 1, 8, generator=g, dtype=F64)
    normed = torch.nn.functional.layer_norm(Z, (8,), eps=1e-6) * weight + bias
    (expected,) = torch.autograd.grad(0.5 * ((normed - target) ** 2).sum(), Z)
    torch.testing.assert_close(ln_l2_grad(Z, target, weight, bias, 1e-6), expected)


def test_inner_model_learns_a_fixed_linear_map_from_the_stream() -> None:
    """Test-time training learns: on a stream with one fixed key-to-value map, probes read
    through late weights reconstruct the map far better than through the first ones."""
    g = torch.Generator().manual_seed(0)
    n, T, K = 8, 1024, 16
    k = torch.randn(1, 1, T, n, generator=g, dtype=F64)
    probe = torch.randn(1, 1, T, n, generator=g, dtype=F64)  # unseen queries
    M = torch.randn(n, n, generator=g, dtype=F64) / n**0.5
    v = k + k @ M  # target v - k = k M: a linear map the inner model can learn
    lr = torch.full((1, 1, T), 0.1, dtype=F64)
    token_scale = 1.0 / torch.arange(1, K + 1, dtype=F64)
    ones, zeros = torch.ones(1, n, dtype=F64), torch.zeros(1, n, dtype=F64)
    W0 = 0.02 * torch.randn(1, n, n, generator=g, dtype=F64)
    out = ttt_linear_dual(probe, k, v, lr, token_scale, W0, zeros, ones, zeros, K)
    target = torch.nn.functional.layer_norm(probe @ M, (n,), eps=1e-6)
    err = ((out - probe - target) ** 2).mean(-1).squeeze()  # (T,)
    first, last = err[:64].mean(), err[-64:].mean()  # 0.66 -> 0.08 at this seed
    assert last < 0.3 * first, f"probe error {first:.3f} -> {last:.3f}"


def _unit(gate: bool, K: int, heads: int, d: int, seed: int) -> torch.nn.Module:
    ctx = BuildContext(d_model=d, n_layers=2, layer_idx=1, context_length=64, vocab_size=10)
    torch.manual_seed(seed)
    unit = TTTLinear(ctx, n_heads=heads, mini_batch=K, gate=gate).double()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # off the neutral init, so every parameter's path carries signal
        for p in unit.parameters():
            p.add_(0.1 * torch.randn(p.shape, dtype=p.dtype, generator=gen))
    return unit


UNIT_CASES = [
    pytest.param(True, 8, 4, 32, 1, 1, id="gate-B1-T1-D32-H4-K8"),
    pytest.param(True, 8, 4, 32, 2, 21, id="gate-B2-T21-D32-H4-K8-ragged"),
    pytest.param(False, 4, 2, 16, 2, 12, id="nogate-B2-T12-D16-H2-K4-exact"),
    pytest.param(True, 16, 1, 16, 1, 20, id="gate-B1-T20-D16-H1-K16"),
]


@pytest.mark.parametrize(("gate", "K", "heads", "d", "b", "T"), UNIT_CASES)
def test_ttt_linear_unit_matches_token_by_token_reference(
    gate: bool, K: int, heads: int, d: int, b: int, T: int
) -> None:
    unit = _unit(gate, K, heads, d, seed=T)
    X = torch.randn(b, T, d, dtype=F64, generator=torch.Generator().manual_seed(0))
    X.requires_grad_()
    inputs = [X, *unit.parameters()]
    Y, fast_grads = _grads(lambda: unit(X)[0], inputs, seed=2)
    Y_ref, slow_grads = _grads(lambda: naive_ttt_layer(unit, X), inputs, seed=2)
    torch.testing.assert_close(Y, Y_ref, rtol=1e-9, atol=1e-11)
    names = ["X", *(n for n, _ in unit.named_parameters())]
    for name, x, y in zip(names, fast_grads, slow_grads, strict=True):
        torch.testing.assert_close(x, y, rtol=1e-8, atol=1e-10, msg=lambda m, n=name: f"d{n}: {m}")


def test_ttt_linear_is_causal_across_mini_batches() -> None:
    unit = _unit(True, 8, 2, 16, seed=0)
    gen = torch.Generator().manual_seed(1)
    X = torch.randn(1, 30, 16, dtype=F64, generator=gen)
    for t in (3, 8, 20):  # inside the first, at a boundary, inside a later mini-batch
        changed = X.clone()
        changed[:, t + 1 :] = torch.randn(1, 29 - t, 16, dtype=F64, generator=gen)
        Y1, Y2 = unit(X)[0], unit(changed)[0]
        torch.testing.assert_close(Y1[:, : t + 1], Y2[:, : t + 1], rtol=0, atol=1e-12)
        assert not torch.allclose(Y1[:, t + 1 :], Y2[:, t + 1 :])


def test_bf16_autocast_keeps_the_inner_loop_in_float32_and_stays_close() -> None:
    unit = _unit(True, 16, 2, 32, seed=1).float()
    X = torch.randn(2, 50, 32, generator=torch.Generator().manual_seed(0))
    ref, _ = unit(X)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        Y, _ = unit(X)
    assert torch.isfinite(Y).all()
    assert (Y.float() - ref).abs().max() < 0.05 * ref.abs().max()
