"""The LM scaffold (``contract.Scaffold``) around a design's unit tree."""

from __future__ import annotations

import torch

from genesys_tui.config import ModelConfig
from genesys_tui.design import Design
from genesys_tui.errors import UnitError
from genesys_tui.units.build import build_unit
from genesys_tui.units.contract import INIT_STD, Scaffold, build_blocks

__all__ = ["INIT_STD", "LanguageModel", "build_lm"]


class LanguageModel(Scaffold):
    """A causal language model around a design's blocks. ``forward(idx) -> logits``."""

    def __init__(self, design: Design, config: ModelConfig) -> None:
        blocks = build_blocks(
            design.roots, lambda root, ctx: build_unit(design, root, ctx),
            d_model=config.d_model, n_layers=config.n_layers,
            context_length=config.context_length, vocab_size=config.vocab_size,
            dropout=config.dropout,
        )  # fmt: skip
        super().__init__(blocks, config.vocab_size, config.d_model, config.dropout)
        self.design = design
        self.config = config
        self.reset_parameters()

    def bad_block(self, block: torch.nn.Module) -> Exception:
        return UnitError(f"block {type(block).__name__} must return (Y, Z) with Z a dict")


def build_lm(design: Design, config: ModelConfig, seed: int | None = None) -> LanguageModel:
    """Build the language model of ``design`` at the size ``config`` gives.

    With ``seed`` the initial weights are reproducible and the global RNG is left untouched.
    """
    if seed is None:
        return LanguageModel(design, config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return LanguageModel(design, config)
