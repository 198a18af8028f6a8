"""RWKV's residual block: pre-norm time mix, pre-norm channel mix; layer 0 norms its input too.

RWKV-7 (Peng et al., 2025) normalises the embeddings once more before the first block (``ln0``):
the reference code draws tiny embeddings and relies on this norm to put the residual stream at
unit scale. It lives inside the block (layer 0 only), not in a slot, so the other layers carry no
unused parameters.
"""

from torch import nn

from genesys_tui.units import Unit


class RWKV7Block(Unit):
    role = "block"
    decode = "pointwise"  # each position on its own: nothing to keep while decoding
    slots = {"norm1": "norm", "mixer": "sequence_mixer", "norm2": "norm", "mlp": "channel_mixer"}

    def __init__(self, ctx, norm1, mixer, norm2, mlp):
        super().__init__(ctx)
        self.norm1 = norm1
        self.mixer = mixer
        self.norm2 = norm2
        self.mlp = mlp
        self.ln0 = nn.LayerNorm(ctx.d_model) if ctx.layer_idx == 0 else None

    def forward(self, X, **Z):
        if self.ln0 is not None:
            X = self.ln0(X)
        H, Z = self.norm1(X, **Z)
        H, Z = self.mixer(H, **Z)
        X = X + H
        H, Z = self.norm2(X, **Z)
        H, Z = self.mlp(H, **Z)
        return X + H, Z
