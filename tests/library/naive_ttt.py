"""Token-by-token references for TTT-Linear, written from the paper's mini-batch gradient descent.

No dual form and no closed-form layer-norm gradient: for each token the inner loss's gradient is
taken by autograd at the mini-batch's starting weights, summed into the running update, and the
token's output is read through the weights updated by the tokens up to and including it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _layer_norm(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float
) -> torch.Tensor:
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * weight + bias


def _inner_grads(
    W: torch.Tensor, b: torch.Tensor, k: torch.Tensor, target: torch.Tensor,
    ln_w: torch.Tensor, ln_b: torch.Tensor, eps: float,
) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Autograd gradients of 1/2 ||LN(k W + b) - target||^2 in W (B, H, N, N) and b (B, H, N)."""

    def loss(W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        z = (k.unsqueeze(-2) @ W).squeeze(-2) + b
        return 0.5 * ((_layer_norm(z, ln_w, ln_b, eps) - target) ** 2).sum()

    return torch.func.grad(loss, argnums=(0, 1))(W, b)


def naive_ttt_linear(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    lr: torch.Tensor,
    token_scale: torch.Tensor,
    W0: torch.Tensor,
    b0: torch.Tensor,
    ln_weight: torch.Tensor,
    ln_bias: torch.Tensor,
    mini_batch: int,
    eps: float = 1e-6,
) -> torch.Tensor:
    """x_q + LN(x_q W_t + b_t) for every token, with the same arguments as ``ttt_linear_dual``.

    Token t, the i-th of its mini-batch (i = 0, 1, ...), reads
    W_t = W_start - token_scale[i] * sum_{s <= t in the mini-batch} lr_s grad_W l(W_start; s),
    and the next mini-batch starts from the W of the current one's last token.
    """
    B, H, T, N = q.shape
    W = W0.expand(B, H, N, N)
    b = b0.expand(B, H, N)
    ln_w, ln_b = ln_weight.expand(B, H, N), ln_bias.expand(B, H, N)
    outs = []
    for start in range(0, T, mini_batch):
        W_start, b_start = W, b
        sum_W = torch.zeros_like(W_start)
        sum_b = torch.zeros_like(b_start)
        for t in range(start, min(start + mini_batch, T)):
            gW, gb = _inner_grads(
                W_start, b_start, k[:, :, t], v[:, :, t] - k[:, :, t], ln_w, ln_b, eps
            )
            step = lr[:, :, t, None]  # (B, H, 1)
            sum_W = sum_W + step.unsqueeze(-1) * gW
            sum_b = sum_b + step * gb
            W = W_start - token_scale[t - start] * sum_W
            b = b_start - token_scale[t - start] * sum_b
            z = (q[:, :, t].unsqueeze(-2) @ W).squeeze(-2) + b
            outs.append(q[:, :, t] + _layer_norm(z, ln_w, ln_b, eps))
    return torch.stack(outs, 2)


def naive_ttt_layer(unit: torch.nn.Module, X: torch.Tensor) -> torch.Tensor:
    """TTTLinear's forward from its parameters, with the naive inner loop. X: (B, T, D)."""
    B, T, D = X.shape
    H, N, K = unit.n_heads, unit.head_dim, unit.mini_batch

    def heads(x: torch.Tensor) -> torch.Tensor:
        return x.view(B, T, H, N).transpose(1, 2)

    # Rotary positions restart at every mini-batch: angle (t mod K) * base^(-2j / N).
    j = torch.arange(N // 2, dtype=X.dtype)
    pos = torch.arange(T, dtype=X.dtype) % K
    angle = pos[:, None] * unit.rope_base ** (-2 * j / N)

    def rope(x: torch.Tensor) -> torch.Tensor:
        x1, x2 = x[..., : N // 2], x[..., N // 2 :]
        return torch.cat(
            [x1 * angle.cos() - x2 * angle.sin(), x1 * angle.sin() + x2 * angle.cos()], -1
        )

    q = rope(heads(X @ unit.q_proj.weight.T))
    k = rope(heads(X @ unit.k_proj.weight.T))
    v = heads(X @ unit.v_proj.weight.T)
    lr = unit.base_lr * torch.sigmoid(X @ unit.lr_weight.T + unit.lr_bias) / N  # (B, T, H)
    token_scale = torch.clamp(
        1.0 / torch.arange(1, K + 1, dtype=X.dtype) + unit.learnable_token_idx, min=0
    )
    out = naive_ttt_linear(
        q, k, v, lr.transpose(1, 2), token_scale, unit.W1, unit.b1,
        unit.ttt_norm_weight, unit.ttt_norm_bias, K, unit.eps,
    )  # fmt: skip
    out = out.transpose(1, 2).reshape(B, T, D)
    out = _layer_norm(out, unit.post_norm.weight, unit.post_norm.bias, unit.post_norm.eps)
    if unit.g_proj is not None:
        out = out * F.gelu(X @ unit.g_proj.weight.T, approximate="tanh")
    return out @ unit.o_proj.weight.T
