"""The LM scaffold: embedding -> N x root block -> final norm -> head tied to the embedding."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genesys_tui.config import ModelConfig
from genesys_tui.design import Design
from genesys_tui.errors import UnitError
from genesys_tui.units.base import BuildContext, Unit
from genesys_tui.units.build import build_unit

INIT_STD = 0.02


class LanguageModel(nn.Module):
    """A causal language model around a design's blocks. ``forward(idx) -> logits``."""

    def __init__(self, design: Design, config: ModelConfig) -> None:
        super().__init__()
        self.design = design
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.d_model)
        self.drop = nn.Dropout(config.dropout)
        blocks = []
        for i in range(config.n_layers):
            ctx = BuildContext(
                d_model=config.d_model,
                n_layers=config.n_layers,
                layer_idx=i,
                context_length=config.context_length,
                vocab_size=config.vocab_size,
                dropout=config.dropout,
            )
            blocks.append(build_unit(design, design.roots[i % len(design.roots)], ctx))
        self.blocks = nn.ModuleList(blocks)
        self.norm_f = nn.RMSNorm(config.d_model, eps=1e-5)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """GPT-2 init; residual writes (``out_proj``) scaled by depth; then units' own init."""
        residual_std = INIT_STD / math.sqrt(2 * self.config.n_layers)
        for name, module in self.named_modules():
            if isinstance(module, nn.Linear):
                std = residual_std if name.rsplit(".", 1)[-1] == "out_proj" else INIT_STD
                nn.init.normal_(module.weight, mean=0.0, std=std)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, mean=0.0, std=INIT_STD)
        for module in self.modules():
            init = getattr(module, "init_weights", None)
            if isinstance(module, Unit) and callable(init):
                init()

    def forward_hidden(self, idx: torch.Tensor) -> tuple[torch.Tensor, dict[str, Any]]:
        """Final hidden states (B, T, D) after the last norm, and the last block's Z."""
        x = self.drop(self.wte(idx))  # (B, T, D)
        z: dict[str, Any] = {}
        for block in self.blocks:
            out = block(x, **z)
            if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], dict)):
                raise UnitError(f"block {type(block).__name__} must return (Y, Z) with Z a dict")
            x, z = out
        return self.norm_f(x), z

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Token ids (B, T) -> logits (B, T, V)."""
        h, _ = self.forward_hidden(idx)
        return F.linear(h, self.wte.weight)

    def num_params(self, non_embedding: bool = False) -> int:
        """Parameter count; ``non_embedding`` leaves out the (tied) token embedding."""
        total = sum(p.numel() for p in self.parameters())
        return total - self.wte.weight.numel() if non_embedding else total


def build_lm(design: Design, config: ModelConfig, seed: int | None = None) -> LanguageModel:
    """Build the language model of ``design`` at the size ``config`` gives.

    With ``seed`` the initial weights are reproducible and the global RNG is left untouched.
    """
    if seed is None:
        return LanguageModel(design, config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return LanguageModel(design, config)
