"""A short causal depthwise convolution before a sequence mixer: Y = inner(X + conv(X)).

Short convolutions give a mixer cheap access to the last few tokens (H3, Mamba, Based,
DeltaNet), which helps recurrent mixers with local patterns such as induction heads.
"""

import torch.nn.functional as F
from torch import nn

from genesys_tui.units import Arg, Unit


class ShortConvSequenceMixer(Unit):
    role = "sequence_mixer"
    slots = {"inner": "sequence_mixer"}
    args = {"kernel_size": Arg(4, low=2, high=8, doc="tokens the convolution sees")}

    def __init__(self, ctx, inner, kernel_size=4):
        super().__init__(ctx)
        self.inner = inner
        self.kernel_size = kernel_size
        self.conv = nn.Conv1d(ctx.d_model, ctx.d_model, kernel_size, groups=ctx.d_model)

    def init_weights(self):
        # Small weights: the wrapped mixer first sees (almost) its usual input.
        nn.init.normal_(self.conv.weight, std=0.02)
        if self.conv.bias is not None:
            nn.init.zeros_(self.conv.bias)

    def forward(self, X, **Z):
        # Left padding only, so position t sees t-k+1 .. t and never the future.
        H = F.pad(X.transpose(1, 2), (self.kernel_size - 1, 0))  # (B, D, T + k - 1)
        H = self.conv(H).transpose(1, 2)  # (B, T, D)
        return self.inner(X + H, **Z)
