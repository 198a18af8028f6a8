"""RWKV-7's channel mix: token shift, then a squared-ReLU MLP of 4x width (Peng et al., 2025)."""

import torch
import torch.nn.functional as F
from torch import nn

from genesys_tui.units import Arg, Unit


class RWKV7ChannelMix(Unit):
    role = "channel_mixer"
    decode = "cached"  # keeps the last input (token shift)
    args = {"expand": Arg(4, low=1, high=16, doc="hidden width as a multiple of d_model")}

    def __init__(self, ctx, expand=4):
        super().__init__(ctx)
        D = ctx.d_model
        self.x_k = nn.Parameter(torch.zeros(D))
        self.key = nn.Linear(D, expand * D, bias=False)
        # The reference zero-initialises this write into the residual stream; we keep the
        # scaffold's depth-scaled normal init (name out_proj) so that every parameter gets a
        # gradient at step 0 and two seeds give two different functions.
        self.out_proj = nn.Linear(expand * D, D, bias=False)
        self.init_weights()

    @torch.no_grad()
    def init_weights(self):
        D, i, N = self.d_model, self.ctx.layer_idx, self.ctx.n_layers
        ratio_1_to_almost0 = 1.0 - i / N
        ddd = torch.arange(D, dtype=torch.float32) / D
        self.x_k.copy_(1.0 - ddd.pow(ratio_1_to_almost0**4))
        bound = 0.5 / D**0.5
        self.key.weight.uniform_(-bound, bound)

    def forward(self, X, **Z):
        cache = self.decoding()  # while generating: the last input, for the token shift
        if cache is None:
            shifted = F.pad(X, (0, 0, 1, -1))  # X[t-1], zero at t = 0
        else:
            shifted = torch.cat([cache.get("x", X.new_zeros(X.shape[0], 1, X.shape[2])), X], 1)
            shifted, cache["x"] = shifted[:, :-1], X[:, -1:]
        k = X + (shifted - X) * self.x_k
        return self.out_proj(torch.relu(self.key(k)).square()), Z
