"""Token-by-token references for RWKV-7's time mix, written from the paper's equations.

They are slow on purpose: one Python step per token, the state update exactly as the reference
CUDA kernel writes it, no chunking, no factorised decays. The chunked unit must match them.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def naive_rwkv7_recurrence(
    r: torch.Tensor,
    log_w: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """S_t = S_{t-1} diag(w_t) + (S_{t-1} a_t) b_t^T + v_t k_t^T and o_t = S_t r_t, from S_0 = 0.

    Inputs (B, T, H, N); returns o (B, T, H, N) and the final state transposed, S^T (B, H, N, N)
    with key rows and value columns.
    """
    B, T, H, N = r.shape
    S = r.new_zeros(B, H, N, N)  # value rows, key columns
    outs = []
    for t in range(T):
        w_t = log_w[:, t].exp()  # (B, H, N)
        sa = (S @ a[:, t].unsqueeze(-1)).squeeze(-1)  # (B, H, N): what the removal key reads
        S = (
            S * w_t.unsqueeze(-2)
            + sa.unsqueeze(-1) * b[:, t].unsqueeze(-2)
            + v[:, t].unsqueeze(-1) * k[:, t].unsqueeze(-2)
        )
        outs.append((S @ r[:, t].unsqueeze(-1)).squeeze(-1))
    return torch.stack(outs, 1), S.transpose(-1, -2)


def naive_rwkv7_time_mix(
    unit: torch.nn.Module, X: torch.Tensor, v_first: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """RWKV7TimeMix's forward, one token at a time, from the unit's parameters.

    Returns (Y, v_first): Y (B, T, D) and the value residual the next layers would see.
    """
    B, T, D = X.shape
    H, N = unit.n_heads, unit.head_dim
    S = X.new_zeros(B, H, N, N)
    prev = X.new_zeros(B, D)
    ys, vs = [], []
    for t in range(T):
        x = X[:, t]
        delta = prev - x
        prev = x

        def view(
            mix: torch.Tensor, x: torch.Tensor = x, delta: torch.Tensor = delta
        ) -> torch.Tensor:
            return x + delta * mix

        r = view(unit.x_r) @ unit.receptance.weight.T
        k = view(unit.x_k) @ unit.key.weight.T
        v = view(unit.x_v) @ unit.value.weight.T
        xw, xa, xg, xv = view(unit.x_w), view(unit.x_a), view(unit.x_g), view(unit.x_v)
        decay = torch.exp(
            -math.exp(-0.5) * torch.sigmoid(unit.w0 + torch.tanh(xw @ unit.w1) @ unit.w2)
        )
        if v_first is None:
            vs.append(v)
        else:
            nu = torch.sigmoid(unit.v0 + xv @ unit.v1 @ unit.v2)
            v = v + (v_first[:, t] - v) * nu
        iclr = torch.sigmoid(unit.a0 + xa @ unit.a1 @ unit.a2)
        gate = torch.sigmoid(xg @ unit.g1) @ unit.g2
        kappa = F.normalize((k * unit.k_k).view(B, H, N), dim=-1)
        k = k * (1 + (iclr - 1) * unit.k_a)
        rh, kh, vh = r.view(B, H, N), k.view(B, H, N), v.view(B, H, N)
        ah = iclr.view(B, H, N)
        # S (diag(w) - kappa^T (a * kappa)) + v^T k: decay, remove along kappa, write v at k.
        removed = (S @ kappa.unsqueeze(-1)) * (kappa * ah).unsqueeze(-2)
        S = S * decay.view(B, H, 1, N) - removed + vh.unsqueeze(-1) * kh.unsqueeze(-2)
        o = (S @ rh.unsqueeze(-1)).squeeze(-1)  # (B, H, N)
        mu = o.mean(-1, keepdim=True)
        var = o.var(-1, unbiased=False, keepdim=True)
        o = (o - mu) / torch.sqrt(var + unit.ln_x.eps)
        o = o.reshape(B, D) * unit.ln_x.weight + unit.ln_x.bias
        bonus = (rh * kh * unit.r_k).sum(-1, keepdim=True) * vh
        o = o + bonus.reshape(B, D)
        ys.append((o * gate) @ unit.out_proj.weight.T)
    Y = torch.stack(ys, 1)
    return Y, (torch.stack(vs, 1) if v_first is None else v_first)
