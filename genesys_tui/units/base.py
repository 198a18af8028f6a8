"""The unit contract: every piece of a design is a ``Unit``.

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

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from genesys_tui.design import Arg

__all__ = ["Arg", "BuildContext", "Unit"]


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
    args: ClassVar[dict[str, Arg]] = {}

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
