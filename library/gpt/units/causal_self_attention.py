"""Multi-head causal self-attention with rotary positions (Su et al., 2021).

Attention itself runs in F.scaled_dot_product_attention (flash or memory-efficient kernels where
the device has them). Rotary tables are cached as non-persistent buffers: recomputed on load,
never saved in checkpoints.
"""

import torch
import torch.nn.functional as F
from torch import nn

from genesys_tui.units import Arg, Unit


def rotary_tables(T, head_dim, base, device):
    inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, device=device).float() / head_dim))
    angles = torch.outer(torch.arange(T, device=device).float(), inv_freq)  # (T, head_dim/2)
    return angles.cos(), angles.sin()


def apply_rotary(x, cos, sin):
    # x: (B, H, T, Dh); rotate the two halves of each head as complex pairs.
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)


class CausalSelfAttention(Unit):
    role = "sequence_mixer"
    decode = "cached"  # keeps the keys and values of the tokens seen
    args = {
        "n_heads": Arg(4, low=1, high=128, doc="attention heads; must divide d_model"),
        "rope_base": Arg(10000.0, low=10.0, high=1e7, doc="rotary frequency base"),
    }

    def __init__(self, ctx, n_heads=4, rope_base=10000.0):
        super().__init__(ctx)
        D = ctx.d_model
        if D % n_heads or (D // n_heads) % 2:
            raise ValueError(f"d_model {D} must split into {n_heads} heads of even size")
        self.n_heads = n_heads
        self.head_dim = D // n_heads
        self.rope_base = rope_base
        self.dropout = ctx.dropout
        self.qkv = nn.Linear(D, 3 * D, bias=False)
        self.out_proj = nn.Linear(D, D, bias=False)
        cos, sin = rotary_tables(ctx.context_length, self.head_dim, rope_base, None)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)

    def forward(self, X, **Z):
        B, T, D = X.shape
        q, k, v = self.qkv(X).view(B, T, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        cache = self.decoding()  # the keys and values of earlier tokens, while generating
        t0 = self.decoding_offset()
        if t0 + T > self.cos.shape[0]:
            cos, sin = rotary_tables(t0 + T, self.head_dim, self.rope_base, X.device)
        else:
            cos, sin = self.cos, self.sin
        cos, sin = cos[t0 : t0 + T].to(q.dtype), sin[t0 : t0 + T].to(q.dtype)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)  # (B, H, T, Dh)
        if cache is not None and t0 > 0:
            k = cache["k"] = torch.cat([cache["k"], k], dim=2)  # (B, H, t0 + T, Dh)
            v = cache["v"] = torch.cat([cache["v"], v], dim=2)
            # query i sits at t0 + i and sees keys 0 .. t0 + i
            seen = torch.ones(T, t0 + T, dtype=torch.bool, device=X.device).tril(t0)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=seen)
        else:
            if cache is not None:
                cache["k"], cache["v"] = k, v
            dropout = self.dropout if self.training else 0.0
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=dropout)
        return self.out_proj(y.transpose(1, 2).reshape(B, T, D)), Z
