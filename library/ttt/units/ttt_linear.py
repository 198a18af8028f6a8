"""TTT-Linear: a hidden state that is a linear model trained at test time (Sun et al., 2024).

Each head keeps an inner model f(x) = x W + b (W: N x N). For every token the key view x_k is
a training input and the value view x_v - x_k the target of the self-supervised loss
l(W; t) = 1/2 || LN(x_k W + b) - (x_v - x_k) ||^2, LN a learnable per-head layer norm. The model
takes mini-batch gradient steps: all tokens of a mini-batch (16 by default) take gradients at the
mini-batch's starting W, token t of the mini-batch sees

    W_t = W_0 - (1 / (t + 1) + c_t) sum_{s <= t} eta_s grad l(W_0; s)
    eta_s = base_lr * sigmoid(x_s . w_h + b_h) / N

(the 1 / (t + 1) averages the gradients seen so far; c is learnable, zero at init), and outputs
x_q + LN(x_q W_t + b_t). The dual form (``ttt_linear_dual``) computes a whole mini-batch's outputs
with a few matmuls; only the hand-over of W from one mini-batch to the next is sequential. Around
it, as in the paper's TTT layer: rotary positions inside each mini-batch on x_q and x_k, a
post-norm, an optional GELU output gate (the paper's Mamba-backbone variant) and the output
projection.
"""

import torch
import torch.nn.functional as F
from torch import nn

from genesys_tui.units import Arg, Unit


def ln_l2_grad(Z, target, weight, bias, eps):
    """d/dZ of 1/2 || LN(Z) * weight + bias - target ||^2, closed form."""
    mu = Z.mean(-1, keepdim=True)
    std = torch.sqrt(Z.var(-1, unbiased=False, keepdim=True) + eps)
    Z_hat = (Z - mu) / std
    g_hat = (Z_hat * weight + bias - target) * weight
    return (
        g_hat - g_hat.mean(-1, keepdim=True) - Z_hat * (g_hat * Z_hat).mean(-1, keepdim=True)
    ) / std


def ttt_linear_dual(
    q, k, v, lr, token_scale, W0, b0, ln_weight, ln_bias, mini_batch, eps=1e-6, states=False
):
    """TTT-Linear's outputs x_q + LN(x_q W_t + b_t) over a sequence, from W0 and b0.

    q, k, v: (B, H, T, N); lr: (B, H, T) inner step size of each token; token_scale: (K,) the
    factor token t of a mini-batch puts on the summed gradients (1 / (t + 1) by default);
    W0: (H, N, N) or (B, H, N, N); b0: (H, N) or (B, H, 1, N); ln_weight, ln_bias: (H, N);
    K = mini_batch. Returns (B, H, T, N) in float32 or wider. A last, partial mini-batch is
    padded: padding only follows real tokens. With ``states`` it also returns the inner model
    (W, b) after the last mini-batch and the one entering it (what decoding keeps).
    """
    B, H, T, N = q.shape
    K = mini_batch
    dtype = torch.promote_types(q.dtype, torch.float32)
    pad = (-T) % K
    C = (T + pad) // K
    with torch.autocast(q.device.type, enabled=False):
        q, k, v = (F.pad(x.to(dtype), (0, 0, 0, pad)).reshape(B, H, C, K, N) for x in (q, k, v))
        lr = F.pad(lr.to(dtype), (0, pad)).reshape(B, H, C, 1, K)
        ln_w = ln_weight.to(dtype).view(1, H, 1, N)
        ln_b = ln_bias.to(dtype).view(1, H, 1, N)
        target = v - k
        # eta[i, j]: how much token j's gradient moves the model that token i reads.
        eta = (token_scale.to(dtype).view(K, 1) * lr).tril()  # (B, H, C, K, K)
        eta_last = eta[..., -1, :].unsqueeze(-1)  # the step that hands W to the next mini-batch
        W = W0.to(dtype).expand(B, H, N, N)
        b = b0.to(dtype).reshape(-1, H, 1, N).expand(B, H, 1, N)
        Ws, bs, grads = [], [], []
        # unbind, not k[:, :, c]: each indexing op would backpropagate a full-size zero tensor.
        for kc, tc, step in zip(k.unbind(2), target.unbind(2), eta_last.unbind(2), strict=True):
            G = ln_l2_grad(kc @ W + b, tc, ln_w, ln_b, eps)  # (B, H, K, N)
            Ws.append(W)
            bs.append(b)
            grads.append(G)
            W = W - (step * kc).transpose(-1, -2) @ G
            b = b - (step * G).sum(-2, keepdim=True)
        after, entering = (W, b), (Ws[-1], bs[-1])
        W, b, G = torch.stack(Ws, 2), torch.stack(bs, 2), torch.stack(grads, 2)
        # x_q W_t + b_t = x_q W_0 + b_0 - sum_{s <= t} eta[t, s] (x_q . x_k_s + 1) grad_s
        attn = (q @ k.transpose(-1, -2) + 1.0) * eta
        Z = q @ W + b - attn @ G
        out = q + F.layer_norm(Z, (N,), eps=eps) * ln_w.unsqueeze(2) + ln_b.unsqueeze(2)
    out = out.view(B, H, C * K, N)[:, :, :T]
    return (out, after, entering) if states else out


def rotary(x, K, base, start=0):
    """Rotate (B, H, T, N) by the position inside its mini-batch (t mod K), as the paper does;
    the first token sits at position ``start``."""
    T, N = x.shape[-2], x.shape[-1]
    dtype = torch.promote_types(x.dtype, torch.float32)
    inv_freq = 1.0 / base ** (torch.arange(0, N, 2, device=x.device, dtype=dtype) / N)
    pos = ((start + torch.arange(T, device=x.device)) % K).to(dtype)
    angles = torch.outer(pos, inv_freq)
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)


class TTTLinear(Unit):
    role = "sequence_mixer"
    decode = "cached"  # keeps the inner model and the current mini-batch's tokens
    args = {
        "n_heads": Arg(4, low=1, high=128, doc="heads, each with its own inner linear model"),
        "mini_batch": Arg(16, low=1, high=256, doc="tokens per inner gradient step"),
        "base_lr": Arg(1.0, low=1e-4, high=100.0, doc="inner learning rate before the gate"),
        "gate": Arg(True, doc="multiply the output by GELU(x W_g), the Mamba-backbone gate"),
        "rope_base": Arg(10000.0, low=10.0, high=1e7, doc="rotary base within a mini-batch"),
    }

    def __init__(self, ctx, n_heads=4, mini_batch=16, base_lr=1.0, gate=True, rope_base=10000.0):
        super().__init__(ctx)
        D = ctx.d_model
        if D % n_heads or (D // n_heads) % 2:
            raise ValueError(f"d_model {D} must split into {n_heads} heads of even size")
        H, N = n_heads, D // n_heads
        self.n_heads, self.head_dim, self.mini_batch = H, N, mini_batch
        self.base_lr, self.rope_base, self.eps = base_lr, rope_base, 1e-6
        self.q_proj = nn.Linear(D, D, bias=False)
        self.k_proj = nn.Linear(D, D, bias=False)
        self.v_proj = nn.Linear(D, D, bias=False)
        self.o_proj = nn.Linear(D, D, bias=False)
        self.g_proj = nn.Linear(D, D, bias=False) if gate else None
        self.W1 = nn.Parameter(torch.zeros(H, N, N))
        self.b1 = nn.Parameter(torch.zeros(H, N))
        self.ttt_norm_weight = nn.Parameter(torch.ones(H, N))
        self.ttt_norm_bias = nn.Parameter(torch.zeros(H, N))
        self.lr_weight = nn.Parameter(torch.zeros(H, D))
        self.lr_bias = nn.Parameter(torch.zeros(H))
        self.learnable_token_idx = nn.Parameter(torch.zeros(mini_batch))
        self.post_norm = nn.LayerNorm(D, eps=1e-6)
        self.init_weights()

    @torch.no_grad()
    def init_weights(self):
        """Reference init: inner W and learning-rate gate from N(0, 0.02); the rest neutral."""
        nn.init.normal_(self.W1, std=0.02)
        nn.init.normal_(self.lr_weight, std=0.02)
        for p in (self.b1, self.ttt_norm_bias, self.lr_bias, self.learnable_token_idx):
            p.zero_()
        self.ttt_norm_weight.fill_(1.0)
        self.post_norm.reset_parameters()

    def forward(self, X, **Z):
        B, T, D = X.shape
        H, N, K = self.n_heads, self.head_dim, self.mini_batch

        def heads(x):
            return x.view(B, T, H, N).transpose(1, 2)  # (B, H, T, N)

        cache = self.decoding()  # while generating: see _decode
        t0 = self.decoding_offset()
        q = rotary(heads(self.q_proj(X)), K, self.rope_base, t0)
        k = rotary(heads(self.k_proj(X)), K, self.rope_base, t0)
        v = heads(self.v_proj(X))
        dtype = torch.promote_types(X.dtype, torch.float32)
        with torch.autocast(X.device.type, enabled=False):  # step sizes stay in float32
            lr_logit = X.to(dtype) @ self.lr_weight.to(dtype).T + self.lr_bias.to(dtype)
            lr = self.base_lr * torch.sigmoid(lr_logit).transpose(1, 2) / N  # (B, H, T)
            token_idx = 1.0 / torch.arange(1, K + 1, device=X.device, dtype=dtype)
            token_scale = (token_idx + self.learnable_token_idx.to(dtype)).clamp_min(0.0)
        if cache is None:
            out = ttt_linear_dual(
                q, k, v, lr, token_scale, self.W1, self.b1, self.ttt_norm_weight,
                self.ttt_norm_bias, K, self.eps,
            )  # fmt: skip
        else:
            out = self._decode(cache, q, k, v, lr, token_scale)
        out = self.post_norm(out.transpose(1, 2).reshape(B, T, D)).to(X.dtype)
        if self.g_proj is not None:
            out = out * F.gelu(self.g_proj(X), approximate="tanh")
        return self.o_proj(out), Z

    def _decode(self, cache, q, k, v, lr, token_scale):
        """The outputs of T new tokens from the cache, which holds the inner model (W, b)
        entering the current mini-batch, that mini-batch's tokens so far, and their running
        sums A = sum_s lr_s k_s^T G_s and c = sum_s lr_s G_s (G_s: token s's gradient at W).
        One token is then a constant amount of work: x_q W_t + b_t = x_q W + b - scale_t
        (x_q A + c), and the mini-batch hands over W - scale_(K-1) A, b - scale_(K-1) c. Several
        tokens rerun the unfinished mini-batch with them in the dual form."""
        if q.shape[2] == 1:
            return self._step(cache, q, k, v, lr, token_scale)
        T, K = q.shape[2], self.mini_batch
        seen = [cache.get(n) for n in ("q", "k", "v", "lr")]
        if seen[0] is not None:  # the mini-batch so far, then these tokens
            new = (q, k, v, lr)
            q, k, v, lr = (torch.cat([a, b], dim=2) for a, b in zip(seen, new, strict=True))
        W, b = cache.get("W", self.W1), cache.get("b", self.b1)
        out, after, entering = ttt_linear_dual(
            q, k, v, lr, token_scale, W, b, self.ttt_norm_weight, self.ttt_norm_bias, K,
            self.eps, states=True,
        )  # fmt: skip
        rest = q.shape[2] % K  # tokens of an unfinished mini-batch at the end
        cache["W"], cache["b"] = entering if rest else after
        for name, x in zip(("q", "k", "v", "lr"), (q, k, v, lr), strict=True):
            cache[name] = x[:, :, x.shape[2] - rest :]
        A, c = self._sums(cache["W"], cache["b"], *(cache[n] for n in ("k", "v", "lr")))
        cache["A"], cache["c"] = A, c
        return out[:, :, q.shape[2] - T :]

    def _sums(self, W, b, k, v, lr):
        """(A, c) of the tokens k, v, lr (B, H, m, N) at the inner model W, b."""
        H, N = self.n_heads, self.head_dim
        dtype = torch.promote_types(k.dtype, torch.float32)
        k, v, lr = k.to(dtype), v.to(dtype), lr.to(dtype)
        ln_w = self.ttt_norm_weight.to(dtype).view(1, H, 1, N)
        ln_b = self.ttt_norm_bias.to(dtype).view(1, H, 1, N)
        b = b.to(dtype).reshape(-1, H, 1, N)
        G = ln_l2_grad(k @ W.to(dtype) + b, v - k, ln_w, ln_b, self.eps)  # (B, H, m, N)
        weighted = lr[..., None] * G
        return k.transpose(-1, -2) @ weighted, weighted.sum(-2, keepdim=True)

    def _step(self, cache, q, k, v, lr, token_scale):
        """One new token in constant time from the running sums (see ``_decode``)."""
        H, N, K = self.n_heads, self.head_dim, self.mini_batch
        dtype = torch.promote_types(q.dtype, torch.float32)
        W = cache.get("W", self.W1).to(dtype)
        b = cache.get("b", self.b1).to(dtype).reshape(-1, H, 1, N)
        seen = cache.get("q")
        t = 0 if seen is None else seen.shape[2]  # position in the mini-batch
        A, c = self._sums(W, b, k, v, lr)
        if t:
            A, c = cache["A"] + A, cache["c"] + c
        scale = token_scale.to(dtype)
        q32 = q.to(dtype)
        Z = q32 @ W + b - scale[t] * (q32 @ A + c)
        ln_w = self.ttt_norm_weight.to(dtype).view(1, H, 1, N)
        ln_b = self.ttt_norm_bias.to(dtype).view(1, H, 1, N)
        out = q32 + F.layer_norm(Z, (N,), eps=self.eps) * ln_w + ln_b
        if t + 1 == K:  # the mini-batch is complete: hand the inner model over
            cache["W"], cache["b"] = W - scale[K - 1] * A, b - scale[K - 1] * c
            for name in ("q", "k", "v", "lr", "A", "c"):
                cache.pop(name, None)
        else:
            new = {"q": q, "k": k, "v": v, "lr": lr}
            for name, x in new.items():
                cache[name] = x if seen is None else torch.cat([cache[name], x], dim=2)
            cache["A"], cache["c"] = A, c
        return out
