"""Genesys: discover new language-model block designs automatically.

Public API (stable)::

    from genesys_tui import load_design, build_lm, ModelConfig
    design = load_design("library/gpt")
    model = build_lm(design, ModelConfig(d_model=128, n_layers=2, vocab_size=256))
    logits = model(ids)  # ids: LongTensor (B, T) -> logits (B, T, V)

Importing the package does not import torch; ``build_lm`` does, on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from genesys_tui.config import ModelConfig
from genesys_tui.design import Design, load_design

__version__ = "0.1.0"
__all__ = ["Design", "ModelConfig", "__version__", "build_lm", "load_design"]

if TYPE_CHECKING:
    from genesys_tui.units.lm import build_lm


def __getattr__(name: str) -> Any:
    if name == "build_lm":
        from genesys_tui.units.lm import build_lm

        return build_lm
    raise AttributeError(f"module 'genesys_tui' has no attribute {name!r}")
