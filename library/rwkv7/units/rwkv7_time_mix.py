"""RWKV-7 "Goose" time mixing: the generalized delta rule (Peng et al., 2025, arXiv 2503.14456).

Per head, a state S (N x N, value rows, key columns) evolves as

    S_t = S_{t-1} (diag(w_t) - kappa_t^T (a_t * kappa_t)) + v_t^T k_t,    o_t = S_t r_t

with a data-dependent per-channel decay w_t = exp(-e^{-0.5} sigmoid(.)) in (0.545, 1), an
in-context learning rate a_t in (0, 1), a normalised removal key kappa_t and a replacement key k_t.
The output adds a per-head bonus (r * k * r_k summed, times v), a group norm per head and a gate.
The value of layer 0 travels to later layers in Z["v_first"] (the value residual).

Training runs the recurrence chunk by chunk (``rwkv7_chunked``): inside a chunk the state's
low-rank removals are solved for at once with one small triangular solve (the WY / UT form used
for DeltaNet and DPLR), and only the chunk-to-chunk state update is sequential.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from genesys_tui.units import Arg, Unit


def rwkv7_chunked(r, log_w, k, v, a, b, chunk_size=32, initial_state=None):
    """Run S_t = S_{t-1} (diag(w_t) + a_t^T b_t) + v_t^T k_t, o_t = S_t r_t from S_0 = 0 (or
    ``initial_state``, laid out as the final state is).

    All inputs are (B, T, H, N); ``log_w`` is log of the decay (<= 0). Returns the outputs
    (B, T, H, N) and the final state (B, H, N, N) laid out as S^T (key rows, value columns),
    both in float32 or wider. Within a chunk the cumulative decay is applied by dividing keys by
    it, so a chunk must not decay by more than about e^-40 (RWKV-7's decays bound it by
    e^(-0.61 chunk_size)); keep chunk_size <= 64.
    """
    B, T, H, N = r.shape
    dtype = torch.promote_types(r.dtype, torch.float32)
    L = chunk_size
    pad = (-T) % L
    C = (T + pad) // L

    def chunks(x):  # (B, T, H, N) -> (B, H, C, L, N), zero-padded at the end
        x = F.pad(x.to(dtype).transpose(1, 2), (0, 0, 0, pad))
        return x.reshape(B, H, C, L, N)

    with torch.autocast(r.device.type, enabled=False):
        # Padded steps have w = 1 and zero inputs: they leave the state alone.
        r, log_w, k, v, a, b = map(chunks, (r, log_w, k, v, a, b))
        cum = log_w.cumsum(-2)  # log prod_{s <= t} w_s within the chunk
        undo = (-cum).exp()
        r_t = r * cum.exp()  # reads at t see the decay up to and including t
        a_t = a * (cum - log_w).exp()  # removals at t read S_{t-1}: decay up to t - 1
        b_bar, k_bar = b * undo, k * undo
        to_end = (cum[..., -1:, :] - cum).exp()  # decay from t to the end of the chunk
        b_end, k_end = b * to_end, k * to_end

        M_ab = (a_t @ b_bar.transpose(-1, -2)).tril(-1)  # removal at t reads writes at s < t
        M_ak = (a_t @ k_bar.transpose(-1, -2)).tril(-1)
        Q_rb = (r_t @ b_bar.transpose(-1, -2)).tril()  # output at t reads writes at s <= t
        Q_rk = (r_t @ k_bar.transpose(-1, -2)).tril()

        # The removal vectors u_t = S_{t-1} a_t solve (I - M_ab) U = A_t S_0 + M_ak V; write
        # U = W S_0 + U_0 so that everything but the chunk-to-chunk recurrence is parallel.
        eye = torch.eye(L, dtype=dtype, device=r.device)
        sol = torch.linalg.solve_triangular(
            eye - M_ab, torch.cat([a_t, M_ak @ v], -1), upper=False, unitriangular=True
        )
        W, U0 = sol[..., :N], sol[..., N:]  # (B, H, C, L, N) each
        R_state = r_t + Q_rb @ W  # outputs read the chunk's initial state through this
        O_intra = Q_rb @ U0 + Q_rk @ v
        A_state = torch.diag_embed(cum[..., -1, :].exp()) + b_end.transpose(-1, -2) @ W
        C_state = b_end.transpose(-1, -2) @ U0 + k_end.transpose(-1, -2) @ v  # (B, H, C, N, N)

        state = r.new_zeros(B, H, N, N) if initial_state is None else initial_state.to(dtype)
        starts = []
        # unbind, not A_state[:, :, c]: each indexing op would backpropagate a full-size tensor.
        for A_c, C_c in zip(A_state.unbind(2), C_state.unbind(2), strict=True):
            starts.append(state)
            state = A_c @ state + C_c
        O = R_state @ torch.stack(starts, 2) + O_intra  # (B, H, C, L, N)
        O = O.reshape(B, H, C * L, N)[:, :, :T].transpose(1, 2)
    return O, state


def lora_rank(d_model, factor):
    """The reference code's LoRA width, factor * sqrt(D) in multiples of 32 (at least 32).

    Below D = 256 the floor of 32 would add more than 20% parameters to a block, so toy widths
    use D // 8 instead.
    """
    if d_model >= 256:
        return max(32, round(factor * d_model**0.5 / 32) * 32)
    return max(1, d_model // 8)


def ortho_(weight, scale):
    rows, cols = weight.shape
    gain = math.sqrt(rows / cols) if rows > cols else 1.0
    return nn.init.orthogonal_(weight, gain=gain * scale)


class RWKV7TimeMix(Unit):
    role = "sequence_mixer"
    decode = "cached"  # keeps the last input (token shift) and the state S
    args = {
        "n_heads": Arg(4, low=1, high=128, doc="heads; each keeps a head_dim x head_dim state"),
        "chunk_size": Arg(32, low=1, high=64, doc="steps solved at once in training"),
        "decay_lora": Arg(0, low=0, high=1024, doc="rank of the decay LoRA; 0: the paper's rule"),
        "iclr_lora": Arg(0, low=0, high=1024, doc="rank of the learning-rate LoRA; 0: rule"),
        "value_lora": Arg(0, low=0, high=1024, doc="rank of the value-residual LoRA; 0: rule"),
        "gate_lora": Arg(0, low=0, high=1024, doc="rank of the output-gate LoRA; 0: rule"),
    }

    def __init__(
        self, ctx, n_heads=4, chunk_size=32, decay_lora=0, iclr_lora=0, value_lora=0, gate_lora=0
    ):
        super().__init__(ctx)
        D = ctx.d_model
        if D % n_heads:
            raise ValueError(f"d_model {D} must split into {n_heads} heads")
        self.n_heads, self.head_dim, self.chunk_size = n_heads, D // n_heads, chunk_size
        dw = decay_lora or lora_rank(D, 2.5)
        da = iclr_lora or lora_rank(D, 2.5)
        dv = value_lora or lora_rank(D, 1.7)
        dg = gate_lora or lora_rank(D, 5.0)
        # Token-shift mixing coefficients, one per input view.
        self.x_r, self.x_w, self.x_k, self.x_v, self.x_a, self.x_g = (
            nn.Parameter(torch.zeros(D)) for _ in range(6)
        )
        self.w0, self.w1, self.w2 = self._lora(D, dw)
        self.a0, self.a1, self.a2 = self._lora(D, da)
        # Layer 0 provides v_first and never mixes it in; only later layers own the residual.
        self.value_residual = ctx.layer_idx > 0
        if self.value_residual:
            self.v0, self.v1, self.v2 = self._lora(D, dv)
        self.g1 = nn.Parameter(torch.zeros(D, dg))
        self.g2 = nn.Parameter(torch.zeros(dg, D))
        self.k_k = nn.Parameter(torch.zeros(D))
        self.k_a = nn.Parameter(torch.zeros(D))
        self.r_k = nn.Parameter(torch.zeros(n_heads, self.head_dim))
        self.receptance = nn.Linear(D, D, bias=False)
        self.key = nn.Linear(D, D, bias=False)
        self.value = nn.Linear(D, D, bias=False)
        # The reference zero-initialises the output; we keep the scaffold's depth-scaled init
        # (name out_proj) so every parameter has a gradient at step 0.
        self.out_proj = nn.Linear(D, D, bias=False)
        self.ln_x = nn.GroupNorm(n_heads, D, eps=1e-5 * self.head_dim)
        self.init_weights()

    @staticmethod
    def _lora(D, rank):
        return (
            nn.Parameter(torch.zeros(D)),
            nn.Parameter(torch.zeros(D, rank)),
            nn.Parameter(torch.zeros(rank, D)),
        )

    @torch.no_grad()
    def init_weights(self):
        """The reference's init: token shift and decays vary by layer and by channel."""
        D, N = self.d_model, self.head_dim
        i, n_layers = self.ctx.layer_idx, self.ctx.n_layers
        ratio_0_to_1 = i / max(n_layers - 1, 1)
        ratio_1_to_almost0 = 1.0 - i / n_layers
        n = torch.arange(D, dtype=torch.float32)
        ddd = n / D
        for name, power in (("r", 0.2), ("w", 0.9), ("k", 0.7), ("v", 0.7), ("a", 0.9), ("g", 0.2)):
            getattr(self, f"x_{name}").copy_(1.0 - ddd.pow(power * ratio_1_to_almost0))
        linear = n / max(D - 1, 1) - 0.5
        zigzag = ((n % N) - (N - 1) / 2) / max((N - 1) / 2, 1.0)
        zigzag = zigzag * zigzag.abs()
        www = -6 + 6 * (n / max(D - 1, 1)).pow(1 + ratio_0_to_1**0.3)
        # w0 sits 0.5 above the reference's value because it writes the decay through softplus:
        # -softplus(-x) - 0.5 = log(e^-0.5 sigmoid(x)), the same function as ours.
        self.w0.copy_(www + 0.5 + zigzag * 2.5)
        self.a0.copy_(-0.19 + zigzag * 0.3 + linear * 0.4)
        self.k_k.copy_(0.71 - linear * 0.1)
        self.k_a.fill_(1.02)
        self.r_k.fill_(-0.04)
        lora = [(self.w1, self.w2), (self.a1, self.a2), (self.g1, self.g2)]
        if self.value_residual:
            self.v0.copy_(0.73 - linear * 0.4)
            lora.append((self.v1, self.v2))
        for first, second in lora:
            first.zero_()
            ortho_(second, 0.1)
        for lin, scale in ((self.receptance, 0.5), (self.key, 0.05), (self.value, 0.5)):
            lin.weight.uniform_(-scale / D**0.5, scale / D**0.5)
        self.ln_x.reset_parameters()

    def forward(self, X, **Z):
        B, T, D = X.shape
        H, N = self.n_heads, self.head_dim
        cache = self.decoding()  # while generating: the last input and the state S
        if cache is None:
            xx = F.pad(X, (0, 0, 1, -1)) - X  # X[t-1] - X[t], with X[-1] = 0
        else:
            last = cache.get("x", X.new_zeros(B, 1, D))
            xx = torch.cat([last, X[:, :-1]], dim=1) - X
            cache["x"] = X[:, -1:]
        mixes = torch.stack([self.x_r, self.x_w, self.x_k, self.x_v, self.x_a, self.x_g])
        xr, xw, xk, xv, xa, xg = torch.addcmul(X, xx, mixes.view(6, 1, 1, D)).unbind(0)
        r = self.receptance(xr)
        w_logit = self.w0 + torch.tanh(xw @ self.w1) @ self.w2
        w_logit = w_logit.to(torch.promote_types(w_logit.dtype, torch.float32))
        log_w = -math.exp(-0.5) * torch.sigmoid(w_logit)  # decay in (e^-e^-0.5, 1)
        k = self.key(xk)
        v = self.value(xv)
        if "v_first" not in Z:
            Z["v_first"] = v  # the first RWKV-7 layer hands its value to the later ones
        elif self.value_residual:
            v = v + (Z["v_first"] - v) * torch.sigmoid(self.v0 + (xv @ self.v1) @ self.v2)
        a = torch.sigmoid(self.a0 + (xa @ self.a1) @ self.a2)  # in-context learning rate
        g = torch.sigmoid(xg @ self.g1) @ self.g2
        kk = F.normalize((k * self.k_k).view(B, T, H, N), dim=-1).view(B, T, D)
        k = k * (1 + (a - 1) * self.k_a)

        heads = [t.view(B, T, H, N) for t in (r, log_w, k, v, -kk, kk * a)]
        start = None if cache is None else cache.get("S")
        # While generating, a call of a few tokens is one chunk of its own length: no padding.
        L = self.chunk_size if cache is None else min(self.chunk_size, T)
        o, state = rwkv7_chunked(*heads, chunk_size=L, initial_state=start)
        if cache is not None:
            cache["S"] = state  # o: (B, T, H, N), float32 or wider
        o = self.ln_x(o.reshape(B * T, D)).view(B, T, H, N)
        bonus = (heads[0] * heads[2] * self.r_k).sum(-1, keepdim=True) * heads[3]
        o = (o + bonus).reshape(B, T, D).to(X.dtype)
        return self.out_proj(o * g), Z
