"""A pre-norm residual block: X + mixer(norm1(X)), then + mlp(norm2(.))."""

from genesys_tui.units import Unit


class PreNormBlock(Unit):
    role = "block"
    decode = "pointwise"  # each position on its own: nothing to keep while decoding
    slots = {"norm1": "norm", "mixer": "sequence_mixer", "norm2": "norm", "mlp": "channel_mixer"}

    def __init__(self, ctx, norm1, mixer, norm2, mlp):
        super().__init__(ctx)
        self.norm1 = norm1
        self.mixer = mixer
        self.norm2 = norm2
        self.mlp = mlp

    def forward(self, X, **Z):
        H, Z = self.norm1(X, **Z)
        H, Z = self.mixer(H, **Z)
        X = X + H
        H, Z = self.norm2(X, **Z)
        H, Z = self.mlp(H, **Z)
        return X + H, Z
