"""An output gate around a channel mixer: Y = inner(X) * sigmoid(X W_g).

Gating a feed-forward branch (as GLU variants do inside it) lets each position scale
how much of the branch enters the residual stream.
"""

import torch
from torch import nn

from genesys_tui.units import Unit


class GatedChannelMixer(Unit):
    role = "channel_mixer"
    slots = {"inner": "channel_mixer"}

    def __init__(self, ctx, inner):
        super().__init__(ctx)
        self.inner = inner
        self.gate = nn.Linear(ctx.d_model, ctx.d_model, bias=True)

    def init_weights(self):
        # Start near an open gate (sigmoid(2) ~ 0.88) so the wrapped mixer keeps its signal.
        nn.init.constant_(self.gate.bias, 2.0)

    def forward(self, X, **Z):
        Y, Z = self.inner(X, **Z)
        return Y * torch.sigmoid(self.gate(X)), Z
