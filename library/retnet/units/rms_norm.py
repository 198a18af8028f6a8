"""Root-mean-square layer norm (Zhang and Sennrich, 2019): X / rms(X) * weight, no centring."""

import torch
import torch.nn.functional as F
from torch import nn

from genesys_tui.units import Arg, Unit


class RMSNorm(Unit):
    role = "norm"
    decode = "pointwise"  # each position on its own: nothing to keep while decoding
    args = {"eps": Arg(1e-5, low=1e-12, high=1e-2, doc="added to the mean square")}

    def __init__(self, ctx, eps=1e-5):
        super().__init__(ctx)
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(ctx.d_model))

    def forward(self, X, **Z):
        return F.rms_norm(X, (X.shape[-1],), self.weight, self.eps), Z
