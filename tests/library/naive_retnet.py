"""Plain token-by-token references for RetNet's multi-scale retention, from the paper's
recurrent form (Sun et al., 2023, eq. 4 and section 2.2).

The tests hold the chunkwise form of ``library/retnet/units/multi_scale_retention.py`` to these.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def retention_recurrent(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, log_gamma: torch.Tensor
) -> torch.Tensor:
    """S_t = gamma S_{t-1} + k_t^T v_t;  o_t = q_t S_t, one head at a time.

    q, k: (b, h, T, dk); v: (b, h, T, dv); log_gamma: (h,). Returns o (b, h, T, dv).
    """
    b, h, T, dk = q.shape
    gamma = torch.exp(log_gamma.to(q.dtype))[None, :, None, None]  # (1, h, 1, 1)
    S = q.new_zeros(b, h, dk, v.shape[-1])
    out = []
    for t in range(T):
        S = gamma * S + k[:, :, t, :, None] * v[:, :, t, None, :]
        out.append((q[:, :, t, :, None] * S).sum(-2))  # (b, h, dv)
    return torch.stack(out, dim=2)


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    # Pairs (x_i, x_{i + d/2}) as complex numbers times e^{i t theta_i}: xPos's relative part.
    half = x.shape[-1] // 2
    z = torch.complex(x[..., :half], x[..., half:]) * torch.complex(cos, sin)
    return torch.cat((z.real, z.imag), dim=-1)


def multi_scale_retention_recurrent(unit: nn.Module, X: torch.Tensor) -> torch.Tensor:
    """The whole MultiScaleRetention unit, computed step by step from its parameters.

    Reads the unit's weights, decays and rotary tables; shares no code with it. X: (b, T, D).
    """
    b, T, _ = X.shape
    H, Dk, Dv = unit.n_heads, unit.key_dim, unit.value_dim

    def heads(t: torch.Tensor, width: int) -> torch.Tensor:
        return t.reshape(b, T, H, width).transpose(1, 2)

    q = heads(X @ unit.q_proj.weight.T, Dk)
    k = heads(X @ unit.k_proj.weight.T, Dk) / Dk**0.5
    v = heads(X @ unit.v_proj.weight.T, Dv)
    cos, sin = unit.cos[:T].to(X.dtype), unit.sin[:T].to(X.dtype)
    o = retention_recurrent(_rotate(q, cos, sin), _rotate(k, cos, sin), v, unit.log_gamma)
    o = o.transpose(1, 2)  # (b, T, H, Dv)
    mean = o.mean(-1, keepdim=True)
    var = o.var(-1, unbiased=False, keepdim=True)
    o = (o - mean) / torch.sqrt(var + 1e-5)
    o = o * unit.norm_weight.view(H, Dv) + unit.norm_bias.view(H, Dv)
    o = F.silu(X @ unit.g_proj.weight.T) * o.reshape(b, T, H * Dv)
    return o @ unit.out_proj.weight.T
