"""A hand-written GPT, the plain reference the unit framework is measured and tested against.

Same shape and parameter names as ``library/gpt`` built through the framework, so a state dict
moves between the two unchanged: equal weights must give equal logits.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def _rotary(T: int, head_dim: int, base: float) -> tuple[torch.Tensor, torch.Tensor]:
    inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2).float() / head_dim))
    angles = torch.outer(torch.arange(T).float(), inv_freq)
    return angles.cos(), angles.sin()


class Norm(nn.Module):
    def __init__(self, d: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x, (x.shape[-1],), self.weight, self.eps)


class Attention(nn.Module):
    def __init__(self, d: int, n_heads: int, context: int, base: float = 10000.0) -> None:
        super().__init__()
        self.n_heads, self.head_dim = n_heads, d // n_heads
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.out_proj = nn.Linear(d, d, bias=False)
        cos, sin = _rotary(context, self.head_dim, base)
        self.cos: torch.Tensor
        self.sin: torch.Tensor
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, D = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        cos, sin = self.cos[:T].to(q.dtype), self.sin[:T].to(q.dtype)

        def rot(t: torch.Tensor) -> torch.Tensor:
            t1, t2 = t.chunk(2, dim=-1)
            return torch.cat((t1 * cos - t2 * sin, t2 * cos + t1 * sin), dim=-1)

        y = F.scaled_dot_product_attention(rot(q), rot(k), v, is_causal=True)
        return self.out_proj(y.transpose(1, 2).reshape(B, T, D))


class Mlp(nn.Module):
    def __init__(self, d: int, expand: int = 4) -> None:
        super().__init__()
        self.fc = nn.Linear(d, expand * d, bias=False)
        self.out_proj = nn.Linear(expand * d, d, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out_proj(F.gelu(self.fc(x)))


class Block(nn.Module):
    def __init__(self, d: int, n_heads: int, context: int) -> None:
        super().__init__()
        self.norm1, self.mixer = Norm(d), Attention(d, n_heads, context)
        self.norm2, self.mlp = Norm(d), Mlp(d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.mixer(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PlainGPT(nn.Module):
    """token ids (B, T) -> logits (B, T, V); weights tied; GPT-2 init with scaled residuals."""

    def __init__(self, vocab: int, d: int, n_layers: int, n_heads: int, context: int) -> None:
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.blocks = nn.ModuleList(Block(d, n_heads, context) for _ in range(n_layers))
        self.norm_f = nn.RMSNorm(d, eps=1e-5)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * n_layers) if "out_proj" in name else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.wte(idx)
        for block in self.blocks:
            x = block(x)
        return F.linear(self.norm_f(x), self.wte.weight)
