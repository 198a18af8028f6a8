"""SwiGLU feed-forward network (Shazeer, 2020) of the TTT paper: down(silu(gate x) * up x)."""

import torch.nn.functional as F
from torch import nn

from genesys_tui.units import Arg, Unit


class SwiGLUMLP(Unit):
    role = "channel_mixer"
    decode = "pointwise"  # each position on its own: nothing to keep while decoding
    args = {
        "expand": Arg(2.667, low=0.5, high=16.0, doc="hidden width as a multiple of d_model"),
        "multiple_of": Arg(8, low=1, high=256, doc="round the hidden width up to this"),
    }

    def __init__(self, ctx, expand=2.667, multiple_of=8):
        super().__init__(ctx)
        D = ctx.d_model
        # 8/3 D keeps three matrices at the 8 D^2 parameters of a 4x GELU MLP.
        hidden = -(-int(expand * D) // multiple_of) * multiple_of
        self.gate_proj = nn.Linear(D, hidden, bias=False)
        self.up_proj = nn.Linear(D, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, D, bias=False)
        self.dropout = nn.Dropout(ctx.dropout)

    def forward(self, X, **Z):
        H = F.silu(self.gate_proj(X)) * self.up_proj(X)
        return self.dropout(self.down_proj(H)), Z
