"""The transformer's position-wise feed-forward network: Linear -> GELU -> Linear."""

import torch.nn.functional as F
from torch import nn

from genesys_tui.units import Arg, Unit


class MLP(Unit):
    role = "channel_mixer"
    decode = "pointwise"  # each position on its own: nothing to keep while decoding
    args = {"expand": Arg(4, low=1, high=16, doc="hidden width as a multiple of d_model")}

    def __init__(self, ctx, expand=4):
        super().__init__(ctx)
        self.fc = nn.Linear(ctx.d_model, expand * ctx.d_model, bias=False)
        self.out_proj = nn.Linear(expand * ctx.d_model, ctx.d_model, bias=False)
        self.dropout = nn.Dropout(ctx.dropout)

    def forward(self, X, **Z):
        return self.dropout(self.out_proj(F.gelu(self.fc(X)))), Z
