"""A norm on a sequence mixer's output: Y = RMSNorm(inner(X)).

Normalizing a branch before it joins the residual stream (NormFormer, sub-LN, RetNet's group
norm) keeps the scale of each block's contribution in check and often steadies training.
"""

import torch
import torch.nn.functional as F
from torch import nn

from genesys_tui.units import Unit


class NormedSequenceMixer(Unit):
    role = "sequence_mixer"
    slots = {"inner": "sequence_mixer"}

    def __init__(self, ctx, inner):
        super().__init__(ctx)
        self.inner = inner
        self.weight = nn.Parameter(torch.ones(ctx.d_model))

    def forward(self, X, **Z):
        Y, Z = self.inner(X, **Z)
        return F.rms_norm(Y, (Y.shape[-1],), self.weight, 1e-5), Z
