"""Multi-scale retention, RetNet's sequence mixer (Sun et al., 2023, arXiv 2307.08621).

Per head h with a fixed decay gamma_h = 1 - 2^(-5-h), retention is the recurrence

    S_t = gamma_h S_{t-1} + k_t^T v_t        # (Dk, Dv) state
    o_t = q_t S_t                            # = sum_{s<=t} gamma_h^(t-s) (q_t . k_s) v_s

with rotary positions on q and k (the relative-position part of xPos). The heads' outputs are
normalised one by one (GroupNorm), gated by swish(X W_G) and projected back to d_model.
Training uses the chunkwise form: inside a chunk of L steps the parallel form with a decay
mask, across chunks a state carried by its decay, so time is linear in T for a fixed L.
Decays are computed in float32 (or float64), never in bf16.
"""

import torch
import torch.nn.functional as F
from torch import nn

from genesys_tui.units import Arg, Unit


def _acc(dtype):
    return torch.promote_types(dtype, torch.float32)


def retention_chunked(q, k, v, log_gamma, chunk_size):
    """Chunkwise retention. q, k: (b, h, T, dk); v: (b, h, T, dv); log_gamma: (h,) of log decays.

    Returns o (b, h, T, dv) with o_t = sum_{s<=t} gamma^(t-s) (q_t . k_s) v_s. T need not divide
    chunk_size: the tail is padded with zeros, which later steps could see but no earlier one.
    """
    b, h, T, dk = q.shape
    dv = v.shape[-1]
    L = chunk_size
    pad = (-T) % L
    if pad:
        q, k, v = (F.pad(t, (0, 0, 0, pad)) for t in (q, k, v))
    c = (T + pad) // L
    q, k = q.reshape(b, h, c, L, dk), k.reshape(b, h, c, L, dk)
    v = v.reshape(b, h, c, L, dv)
    lg = log_gamma.to(_acc(q.dtype))[:, None, None]  # (h, 1, 1)
    pos = torch.arange(L, device=q.device)

    # within a chunk: the parallel form, (q k^T . decay mask) v
    gap = pos[:, None] - pos[None, :]  # (L, L), steps from s to t
    mask = torch.exp(lg * gap.clamp(min=0)).masked_fill(gap < 0, 0.0)  # (h, L, L)
    inner = ((q @ k.transpose(-1, -2)) * mask[:, None]).to(v.dtype) @ v  # (b, h, c, L, dv)

    # each chunk's own contribution to the state at its end
    k_to_end = torch.exp(lg * (L - 1 - pos))[..., None]  # (h, 1, L, 1)
    states = (k * k_to_end).transpose(-1, -2).to(v.dtype) @ v  # (b, h, c, dk, dv)

    # state entering chunk z: sum over earlier chunks j of gamma^(L (z - 1 - j)) states_j
    chunk = torch.arange(c, device=q.device)
    hops = chunk[:, None] - chunk[None, :] - 1  # (c, c)
    across = torch.exp(lg * L * hops.clamp(min=0)).masked_fill(hops < 0, 0.0)  # (h, c, c)
    entering = (across.to(states.dtype) @ states.flatten(-2)).view(b, h, c, dk, dv)

    q_from_start = torch.exp(lg * (pos + 1))[..., None]  # (h, 1, L, 1)
    cross = (q * q_from_start).to(entering.dtype) @ entering  # (b, h, c, L, dv)
    return (inner + cross).reshape(b, h, c * L, dv)[:, :, :T]


def rotary_tables(T, head_dim, base, device):
    inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, device=device).float() / head_dim))
    angles = torch.outer(torch.arange(T, device=device).float(), inv_freq)  # (T, head_dim/2)
    return angles.cos(), angles.sin()


def apply_rotary(x, cos, sin):
    # x: (B, H, T, Dh); rotate the two halves of each head as complex pairs.
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)


class MultiScaleRetention(Unit):
    role = "sequence_mixer"
    decode = "cached"  # keeps the retention state of the tokens seen
    args = {
        "n_heads": Arg(4, low=1, high=128, doc="retention heads, one decay each; divide d_model"),
        "value_factor": Arg(2, low=1, high=4, doc="value and gate width as a multiple of D"),
        "chunk_size": Arg(64, low=1, high=4096, doc="chunk length L of the chunkwise form"),
        "rope_base": Arg(10000.0, low=10.0, high=1e7, doc="rotary frequency base"),
    }

    def __init__(self, ctx, n_heads=4, value_factor=2, chunk_size=64, rope_base=10000.0):
        super().__init__(ctx)
        D = ctx.d_model
        if D % n_heads or (D // n_heads) % 2:
            raise ValueError(f"d_model {D} must split into {n_heads} heads of even size")
        self.n_heads, self.chunk_size, self.rope_base = n_heads, chunk_size, rope_base
        self.key_dim = D // n_heads
        self.value_dim = value_factor * D // n_heads
        Dv = value_factor * D
        self.q_proj = nn.Linear(D, D, bias=False)
        self.k_proj = nn.Linear(D, D, bias=False)
        self.v_proj = nn.Linear(D, Dv, bias=False)
        self.g_proj = nn.Linear(D, Dv, bias=False)
        self.out_proj = nn.Linear(Dv, D, bias=False)
        self.norm_weight = nn.Parameter(torch.ones(Dv))  # GroupNorm's affine, one group per head
        self.norm_bias = nn.Parameter(torch.zeros(Dv))
        # gamma_h = 1 - 2^(-5-h): heads from a ~32-step memory to a ~2^(4+H)-step one.
        gamma = 1.0 - torch.exp2(-5.0 - torch.arange(n_heads, dtype=torch.float64))
        self.register_buffer("log_gamma", torch.log(gamma).float(), persistent=False)
        cos, sin = rotary_tables(ctx.context_length, self.key_dim, rope_base, None)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)

    def forward(self, X, **Z):
        B, T, _ = X.shape
        H, Dk, Dv = self.n_heads, self.key_dim, self.value_dim
        q = self.q_proj(X).view(B, T, H, Dk).transpose(1, 2)  # (B, H, T, Dk)
        k = self.k_proj(X).view(B, T, H, Dk).transpose(1, 2)
        v = self.v_proj(X).view(B, T, H, Dv).transpose(1, 2)  # (B, H, T, Dv)
        cache = self.decoding()  # while generating: the state S after the tokens seen
        t0 = self.decoding_offset()
        if t0 + T > self.cos.shape[0]:
            cos, sin = rotary_tables(t0 + T, Dk, self.rope_base, X.device)
        else:
            cos, sin = self.cos, self.sin
        cos, sin = cos[t0 : t0 + T].to(q.dtype), sin[t0 : t0 + T].to(q.dtype)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k * Dk**-0.5, cos, sin)
        # While generating, a call of a few tokens is one chunk of its own length: no padding.
        L = self.chunk_size if cache is None else min(self.chunk_size, T)
        o = retention_chunked(q, k, v, self.log_gamma, L)
        if cache is not None:
            o = o + self._carry(q, k, v, cache)
        o = o.transpose(1, 2)
        o = F.layer_norm(o.to(_acc(o.dtype)), (Dv,), eps=1e-5)  # (B, T, H, Dv), per head
        o = o * self.norm_weight.view(H, Dv) + self.norm_bias.view(H, Dv)
        o = F.silu(self.g_proj(X)) * o.reshape(B, T, H * Dv).to(X.dtype)
        return self.out_proj(o), Z

    def _carry(self, q, k, v, cache):
        """What the state S0 of the earlier tokens adds to the outputs of these T tokens
        (q_t gamma^(t+1) S0); stores the state after them, gamma^T S0 + sum_s gamma^(T-1-s)
        k_s^T v_s, in ``cache``."""
        T = q.shape[2]
        lg = self.log_gamma.to(_acc(q.dtype))[:, None]  # (H, 1)
        pos = torch.arange(T, device=q.device)
        S0 = cache.get("S")  # (B, H, Dk, Dv)
        state = (k * torch.exp(lg * (T - 1 - pos))[..., None]).transpose(-1, -2) @ v.to(lg.dtype)
        if S0 is None:
            cache["S"] = state
            return torch.zeros_like(v)
        cache["S"] = state + torch.exp(lg * T)[..., None] * S0
        return ((q * torch.exp(lg * (pos + 1))[..., None]) @ S0).to(v.dtype)
