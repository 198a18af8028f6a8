"""Layer norm (Ba et al., 2016) with a learned scale and bias, as RWKV's blocks use."""

import torch
import torch.nn.functional as F
from torch import nn

from genesys_tui.units import Arg, Unit


class LayerNorm(Unit):
    role = "norm"
    decode = "pointwise"  # each position on its own: nothing to keep while decoding
    args = {"eps": Arg(1e-5, low=1e-12, high=1e-2, doc="added to the variance")}

    def __init__(self, ctx, eps=1e-5):
        super().__init__(ctx)
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(ctx.d_model))
        self.bias = nn.Parameter(torch.zeros(ctx.d_model))

    def forward(self, X, **Z):
        return F.layer_norm(X, (X.shape[-1],), self.weight, self.bias, self.eps), Z
