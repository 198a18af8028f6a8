"""Plain token-by-token references for the Mamba-2 mixer, written from the paper's equations.

Slow and obviously right: one Python step per token, no chunks, no segment sums. The tests hold
the chunked SSD computation of ``library/mamba2/units/mamba2.py`` to these.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def ssd_recurrent(
    X: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    initial_state: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """state_t = exp(A_t) state_{t-1} + x_t B_t^T;  y_t = state_t C_t  (per batch row and head).

    X: (b, T, h, p); A: (b, T, h); B, C: (b, T, h or 1, n); initial_state: (b, h, p, n).
    Returns Y (b, T, h, p) and the final state (b, h, p, n).
    """
    b, T, h, p = X.shape
    n = B.shape[-1]
    state = X.new_zeros(b, h, p, n) if initial_state is None else initial_state
    ys = []
    for t in range(T):
        decay = torch.exp(A[:, t])[:, :, None, None]  # (b, h, 1, 1)
        state = decay * state + X[:, t, :, :, None] * B[:, t, :, None, :]
        ys.append((state * C[:, t, :, None, :]).sum(-1))  # (b, h, p)
    return torch.stack(ys, dim=1), state


def mamba2_recurrent(unit: nn.Module, X: torch.Tensor) -> torch.Tensor:
    """The whole Mamba2 unit (projection, convolution, SSM, skip, gate, norm, output) by steps.

    Reads the unit's parameters and sizes; shares no code with it. X: (b, T, d_model).
    """
    b, T, _ = X.shape
    E, N, H, P = unit.d_inner, unit.d_state, unit.n_heads, unit.head_dim
    proj = X @ unit.in_proj.weight.T
    z, xBC, dt_raw = proj[..., :E], proj[..., E : 2 * E + 2 * N], proj[..., 2 * E + 2 * N :]
    w = unit.conv1d.weight[:, 0, :]  # (channels, K): tap k looks back K-1-k steps
    K = w.shape[-1]
    conv = []
    for t in range(T):
        acc = unit.conv1d.bias.expand(b, -1)
        for k in range(K):
            s = t - (K - 1) + k
            if s >= 0:
                acc = acc + w[:, k] * xBC[:, s]
        conv.append(acc)
    xBC = F.silu(torch.stack(conv, dim=1))
    x, Bm, Cm = xBC[..., :E], xBC[..., E : E + N], xBC[..., E + N :]
    dt = F.softplus(dt_raw + unit.dt_bias)  # (b, T, H)
    A = -torch.exp(unit.A_log)
    x = x.reshape(b, T, H, P)
    state = X.new_zeros(b, H, P, N)
    ys = []
    for t in range(T):
        decay = torch.exp(dt[:, t] * A)[:, :, None, None]
        inp = (dt[:, t, :, None] * x[:, t])[:, :, :, None] * Bm[:, t, None, None, :]
        state = decay * state + inp
        ys.append((state * Cm[:, t, None, None, :]).sum(-1) + unit.D[:, None] * x[:, t])
    y = torch.stack(ys, dim=1).reshape(b, T, E) * F.silu(z)
    y = y / torch.sqrt(y.pow(2).mean(-1, keepdim=True) + 1e-5) * unit.norm_weight
    return y @ unit.out_proj.weight.T
