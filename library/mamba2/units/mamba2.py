"""The Mamba-2 mixer: a selective state-space layer computed by state-space duality (SSD).

Dao and Gu, "Transformers are SSMs" (ICML 2024). Per head h the layer is the recurrence

    state_t = exp(dt_t * A_h) * state_{t-1} + dt_t * x_t B_t^T      # (P, N)
    y_t     = state_t C_t + D_h * x_t

with A_h < 0 a scalar (A = -exp(A_log), "scalar times identity"), dt_t = softplus(. + dt_bias)
chosen per token and head, and B_t, C_t (N wide) shared by all heads (one group). Training
uses the chunked "ssd minimal" algorithm: within a chunk of L steps the output is a masked
quadratic form (attention-like, decays from segment sums); across chunks the states are
passed on by their decays. Time is O(T L) within chunks plus O((T / L)^2) scalars across them,
so linear in T for a fixed chunk length. Decays are always computed in float32 (or float64).
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from genesys_tui.units import Arg, Unit


def _acc(dtype):
    # Cumulative sums of log decays lose everything in bf16; keep them at least in float32.
    return torch.promote_types(dtype, torch.float32)


def segsum(a):
    """a (..., L) -> (..., L, L): out[i, j] = a[j+1] + ... + a[i] for j <= i, -inf above.

    Built by a masked cumulative sum rather than a difference of cumsums, which cancels badly.
    """
    L = a.size(-1)
    a = a[..., None].expand(*a.shape, L)  # (..., L, L), a[..., i, j] = a_i
    below = torch.tril(torch.ones(L, L, dtype=torch.bool, device=a.device), diagonal=-1)
    s = torch.cumsum(a.masked_fill(~below, 0.0), dim=-2)
    on_or_below = torch.tril(torch.ones(L, L, dtype=torch.bool, device=a.device), diagonal=0)
    return s.masked_fill(~on_or_below, -math.inf)


def ssd_chunked(X, A, B, C, chunk_size, initial_state=None):
    """The SSD scan by chunks ("ssd minimal", Dao and Gu 2024, listing 1).

    X: (b, T, h, p) inputs already scaled by dt; A: (b, T, h) log decays (dt * A, <= 0);
    B, C: (b, T, h or 1, n); initial_state: (b, h, p, n) or None (zeros).
    Returns Y (b, T, h, p) and the final state (b, h, p, n). T need not divide chunk_size.
    """
    b, T, h, p = X.shape
    n = B.shape[-1]
    L = chunk_size
    pad = (-T) % L
    if pad:  # padded steps come last, have zero input and no decay: earlier outputs ignore them
        X, B, C = (F.pad(t, (0, 0, 0, 0, 0, pad)) for t in (X, B, C))
        A = F.pad(A, (0, 0, 0, pad))
    c = (T + pad) // L
    X = X.reshape(b, c, L, h, p).permute(0, 3, 1, 2, 4)  # (b, h, c, L, p)
    hb = B.shape[2]  # h, or 1 when all heads share B and C
    B = B.reshape(b, c, L, hb, n).permute(0, 3, 1, 2, 4)  # (b, hb, c, L, n)
    C = C.reshape(b, c, L, hb, n).permute(0, 3, 1, 2, 4)
    A = A.to(_acc(A.dtype)).reshape(b, c, L, h).permute(0, 3, 1, 2)  # (b, h, c, L)
    A_cs = torch.cumsum(A, dim=-1)

    # 1. within each chunk: a causal quadratic form weighted by the decay between two steps
    decay = torch.exp(segsum(A))  # (b, h, c, L, L)
    scores = (C @ B.transpose(-1, -2)) * decay
    Y = scores.to(X.dtype) @ X  # (b, h, c, L, p)

    # 2. the state each chunk leaves behind, counting its own inputs only
    to_end = torch.exp(A_cs[..., -1:] - A_cs)  # (b, h, c, L)
    states = (B * to_end[..., None]).transpose(-1, -2).to(X.dtype) @ X  # (b, h, c, n, p)

    # 3. pass states across chunks: state entering chunk z = sum_c decay(c -> z) state_c
    if initial_state is None:
        first = states.new_zeros(b, h, 1, n, p)
    else:
        first = initial_state.transpose(-1, -2)[:, :, None].to(states.dtype)
    states = torch.cat([first, states], dim=2)  # (b, h, c+1, n, p)
    chunk_decay = torch.exp(segsum(F.pad(A_cs[..., -1], (1, 0))))  # (b, h, c+1, c+1)
    states = (chunk_decay.to(states.dtype) @ states.flatten(-2)).view(b, h, c + 1, n, p)
    entering, final = states[:, :, :-1], states[:, :, -1]

    # 4. what the entering state contributes to each step of the chunk
    Y_off = (C @ entering.to(C.dtype)) * torch.exp(A_cs)[..., None]  # (b, h, c, L, p)
    Y = (Y + Y_off).permute(0, 2, 3, 1, 4).reshape(b, c * L, h, p)[:, :T]
    return Y, final.transpose(-1, -2)


class Mamba2(Unit):
    role = "sequence_mixer"
    decode = "cached"  # keeps the convolution's last inputs and the state-space state
    args = {
        "expand": Arg(2, low=1, high=8, doc="inner width as a multiple of d_model"),
        "d_state": Arg(64, low=1, high=512, doc="state size N per head"),
        "head_dim": Arg(32, low=1, high=512, doc="head width P; must divide expand * d_model"),
        "d_conv": Arg(4, low=1, high=16, doc="width of the causal depthwise convolution"),
        "chunk_size": Arg(64, low=1, high=4096, doc="SSD chunk length L"),
        "dt_min": Arg(0.001, low=1e-6, high=1.0, doc="smallest initial step dt"),
        "dt_max": Arg(0.1, low=1e-6, high=10.0, doc="largest initial step dt"),
    }

    def __init__(
        self,
        ctx,
        expand=2,
        d_state=64,
        head_dim=32,
        d_conv=4,
        chunk_size=64,
        dt_min=0.001,
        dt_max=0.1,
    ):
        super().__init__(ctx)
        D = ctx.d_model
        E = expand * D
        if E % head_dim:
            raise ValueError(f"expand * d_model = {E} must be a multiple of head_dim {head_dim}")
        if dt_min > dt_max:
            raise ValueError(f"dt_min {dt_min} must not exceed dt_max {dt_max}")
        self.d_inner, self.d_state, self.head_dim = E, d_state, head_dim
        self.n_heads = E // head_dim
        self.chunk_size, self.dt_min, self.dt_max = chunk_size, dt_min, dt_max
        conv_dim = E + 2 * d_state  # x, B and C all pass through the convolution
        self.in_proj = nn.Linear(D, E + conv_dim + self.n_heads, bias=False)  # z, xBC, dt
        self.conv1d = nn.Conv1d(conv_dim, conv_dim, d_conv, groups=conv_dim, padding=d_conv - 1)
        self.dt_bias = nn.Parameter(torch.empty(self.n_heads))
        self.A_log = nn.Parameter(torch.empty(self.n_heads))
        self.D = nn.Parameter(torch.ones(self.n_heads))
        self.norm_weight = nn.Parameter(torch.ones(E))  # gated RMSNorm before out_proj
        self.out_proj = nn.Linear(E, D, bias=False)
        self.init_weights()

    def init_weights(self):
        # The paper's init: dt log-uniform in [dt_min, dt_max] stored through softplus's
        # inverse; A uniform in [1, 16] so heads start with a spread of memory lengths.
        H, dev = self.n_heads, self.dt_bias.device
        with torch.no_grad():
            lo, hi = math.log(self.dt_min), math.log(self.dt_max)
            dt = torch.exp(torch.rand(H, device=dev) * (hi - lo) + lo).clamp(min=1e-4)
            self.dt_bias.copy_(dt + torch.log(-torch.expm1(-dt)))
            self.A_log.copy_(torch.log(torch.empty(H, device=dev).uniform_(1.0, 16.0)))
            self.D.fill_(1.0)
            self.norm_weight.fill_(1.0)

    def forward(self, X, **Z):
        b, T, _ = X.shape
        E, N, H, P = self.d_inner, self.d_state, self.n_heads, self.head_dim
        z, xBC, dt = self.in_proj(X).split([E, E + 2 * N, H], dim=-1)
        cache = self.decoding()  # while generating: the convolution's inputs and the SSM state
        if cache is None:
            xBC = F.silu(self.conv1d(xBC.transpose(1, 2))[..., :T].transpose(1, 2))  # causal: crop
        else:
            K = self.conv1d.kernel_size[0]
            past = cache.get("conv")
            if past is None:  # what the padding gives the first token: zeros
                past = xBC.new_zeros(b, K - 1, xBC.shape[-1])
            xBC = torch.cat([past, xBC], dim=1)  # (b, K - 1 + T, conv_dim)
            cache["conv"] = xBC[:, xBC.shape[1] - (K - 1) :]
            w, bias = self.conv1d.weight, self.conv1d.bias
            xBC = F.silu(F.conv1d(xBC.transpose(1, 2), w, bias, groups=w.shape[0]).transpose(1, 2))
        x, B, C = xBC.split([E, N, N], dim=-1)
        dt = F.softplus(dt.to(_acc(dt.dtype)) + self.dt_bias)  # (b, T, H)
        A = -torch.exp(self.A_log.to(dt.dtype))  # (H,)
        x = x.reshape(b, T, H, P)
        # While generating, a call of a few tokens is one chunk of its own length: no padding.
        L, start = self.chunk_size, None
        if cache is not None:
            L, start = min(self.chunk_size, T), cache.get("ssm")
        y, final = ssd_chunked(x * dt[..., None], A * dt, B[:, :, None], C[:, :, None], L, start)
        if cache is not None:
            cache["ssm"] = final
        y = y + x * self.D.to(y.dtype)[:, None]  # (b, T, H, P)
        y = y.reshape(b, T, E) * F.silu(z)
        y = F.rms_norm(y, (E,), self.norm_weight.to(y.dtype), 1e-5)
        return self.out_proj(y.to(X.dtype)), Z
