"""The unit contract and the LM scaffold, in one file that imports torch and nothing else.

Genesys builds its models from these classes, and ``genesys export`` copies this file verbatim
into every exported Hugging Face model directory, so a design loaded with
``AutoModelForCausalLM.from_pretrained(..., trust_remote_code=True)`` runs exactly the code it
was trained and scored with, on machines where Genesys is not installed. Keep it free of any
import but torch.

A unit is an ``nn.Module`` with ``forward(X, **Z) -> (Y, Z)``. ``X`` and ``Y`` have shape
(B, T, D); ``Z`` is a dict of named intermediate values passed between units and from block to
block (a value residual, a gate, a state). A unit declares, as class attributes written as
literals (the checker and the design loader read them from source without running it):

    role   one of genesys_tui.design.ROLES
    slots  {slot name: role} of the children it takes; each child arrives as a keyword
           argument of ``__init__`` named by its slot and must be kept as ``self.<slot>``
    args   {name: Arg(default, low=..., high=..., doc=...)}; values arrive as keyword arguments

``__init__`` receives the BuildContext first. Weight initialisation: the scaffold draws every
``nn.Linear`` and ``nn.Embedding`` weight from N(0, 0.02), zeroes biases, scales a Linear named
``out_proj`` (a write into the residual stream) by 1/sqrt(2 N), then calls ``init_weights()`` on
each unit that defines it, for parameters that need a special init (decays, A_log, ...).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

INIT_STD = 0.02


@dataclass(frozen=True)
class BuildContext:
    """What a unit knows about the model it is built into."""

    d_model: int  # width D of X and Y
    n_layers: int  # number of blocks N in the model
    layer_idx: int  # which block this unit belongs to, 0-based
    context_length: int  # the longest sequence the model is trained on
    vocab_size: int  # tokenizer vocabulary
    dropout: float = 0.0  # dropout probability units may apply


class Unit(nn.Module):
    """Base class of every unit. Subclasses set ``role`` and may set ``slots`` and ``args``."""

    role: ClassVar[str] = "other"
    slots: ClassVar[dict[str, str]] = {}
    args: ClassVar[dict[str, Any]] = {}

    def __init__(self, ctx: BuildContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.d_model = ctx.d_model

    def forward(  # type: ignore[override]
        self, X: torch.Tensor, **Z: Any
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        raise NotImplementedError(f"{type(self).__name__} must implement forward(X, **Z)")

    def extra_repr(self) -> str:
        return f"role={self.role}"


class Scaffold(nn.Module):
    """Embedding -> the design's blocks -> final RMSNorm -> head tied to the embedding.

    ``forward(idx) -> logits``. Its parameters are ``wte``, ``blocks`` and ``norm_f``: the
    state-dict keys of every Genesys checkpoint.
    """

    def __init__(
        self, blocks: Sequence[nn.Module], vocab_size: int, d_model: int, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.wte = nn.Embedding(vocab_size, d_model)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(blocks)
        self.norm_f = nn.RMSNorm(d_model, eps=1e-5)

    def reset_parameters(self) -> None:
        """GPT-2 init; residual writes (``out_proj``) scaled by depth; then units' own init."""
        residual_std = INIT_STD / math.sqrt(2 * len(self.blocks))
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

    def bad_block(self, block: nn.Module) -> Exception:
        """The error raised when a block does not return ``(Y, Z)``."""
        return TypeError(f"block {type(block).__name__} must return (Y, Z) with Z a dict")

    def forward_hidden(self, idx: torch.Tensor) -> tuple[torch.Tensor, dict[str, Any]]:
        """Final hidden states (B, T, D) after the last norm, and the last block's Z."""
        x = self.drop(self.wte(idx))  # (B, T, D)
        z: dict[str, Any] = {}
        for block in self.blocks:
            out = block(x, **z)
            if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], dict)):
                raise self.bad_block(block)
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
