"""A unit is an ``nn.Module`` with ``forward(X, **Z) -> (Y, Z)``. ``X`` and ``Y`` have shape
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

Cached decoding. ``Scaffold.forward(idx, cache=DecodeCache())`` runs only the new tokens
``idx`` after the ``cache.offset`` tokens it has seen. Each unit says how it decodes in its
class attribute ``decode``: "pointwise" (every position on its own: norms, MLPs, residual
blocks), "cached" (it keeps what it needs of the past in ``self.decoding()``, a dict that lives
as long as the cache, and reads ``self.decoding_offset()`` for the position of its first new
token), or "recompute" (the default: the model cannot decode with a cache and recomputes the
whole prefix for every token). Outside decoding ``self.decoding()`` is None and a unit runs its
ordinary forward.

(This file holds the unit contract and the LM scaffold and imports torch and nothing else:
Genesys builds its models from it, and ``genesys export`` copies it verbatim into every exported
Hugging Face model directory, so an exported design runs the code it was trained and scored
with, where Genesys is not installed.)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
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


DECODE_MODES = ("pointwise", "cached", "recompute")


class DecodeCache:
    """What a model keeps between calls while it generates: the tokens seen so far and each
    cached unit's own state. One cache belongs to one batch of sequences."""

    def __init__(self) -> None:
        self.offset = 0  # tokens of each sequence the model has run so far
        self.states: dict[int, dict[str, Any]] = {}  # id(unit) -> that unit's state

    def state(self, unit: nn.Module) -> dict[str, Any]:
        return self.states.setdefault(id(unit), {})

    def reorder(self, index: torch.Tensor) -> None:
        """Keep the sequences ``index`` selects (beam search), in that order: every tensor of
        every state is indexed along its batch dimension, the first."""
        for state in self.states.values():
            for key, value in state.items():
                if isinstance(value, torch.Tensor):
                    state[key] = value.index_select(0, index.to(value.device))

    reorder_cache = reorder  # the name transformers' beam search calls


class Unit(nn.Module):
    """Base class of every unit. Subclasses set ``role`` and may set ``slots`` and ``args``."""

    role: ClassVar[str] = "other"
    slots: ClassVar[dict[str, str]] = {}
    args: ClassVar[dict[str, Any]] = {}
    decode: ClassVar[str] = "recompute"  # one of DECODE_MODES; see the module docstring

    def __init__(self, ctx: BuildContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.d_model = ctx.d_model

    def forward(  # type: ignore[override]
        self, X: torch.Tensor, **Z: Any
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        raise NotImplementedError(f"{type(self).__name__} must implement forward(X, **Z)")

    def decoding(self) -> dict[str, Any] | None:
        """This unit's state while the model decodes with a cache; None otherwise."""
        cache = self.__dict__.get("_decode_cache")
        return None if cache is None else cache.state(self)

    def decoding_offset(self) -> int:
        """While decoding: the position of the first token of this call (0 outside decoding)."""
        cache = self.__dict__.get("_decode_cache")
        return 0 if cache is None else cache.offset

    def extra_repr(self) -> str:
        return f"role={self.role}"


def build_blocks(
    roots: Sequence[str],
    build: Callable[[str, BuildContext], nn.Module],
    *,
    d_model: int,
    n_layers: int,
    context_length: int,
    vocab_size: int,
    dropout: float = 0.0,
) -> list[nn.Module]:
    """One block per layer: layer i is ``build(roots[i % len(roots)], its BuildContext)``."""
    blocks = []
    for i in range(n_layers):
        ctx = BuildContext(
            d_model=d_model, n_layers=n_layers, layer_idx=i, context_length=context_length,
            vocab_size=vocab_size, dropout=dropout,
        )  # fmt: skip
        blocks.append(build(roots[i % len(roots)], ctx))
    return blocks


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

    def forward(self, idx: torch.Tensor, cache: DecodeCache | None = None) -> torch.Tensor:
        """Token ids (B, T) -> logits (B, T, V). With ``cache``, ``idx`` are the tokens that
        follow the ``cache.offset`` tokens already run (see ``can_cache``)."""
        if cache is None:
            h, _ = self.forward_hidden(idx)
            return F.linear(h, self.wte.weight)
        if not self.can_cache():
            raise ValueError(f"units that cannot decode with a cache: {self.uncached_units()}")
        units = [m for m in self.modules() if isinstance(m, Unit)]
        for unit in units:
            unit.__dict__["_decode_cache"] = cache
        try:
            h, _ = self.forward_hidden(idx)
        finally:
            for unit in units:
                unit.__dict__.pop("_decode_cache", None)
        cache.offset += idx.shape[1]
        return F.linear(h, self.wte.weight)

    def uncached_units(self) -> list[str]:
        """Classes of the units that would have to recompute the prefix while decoding."""
        found = {
            type(m).__name__
            for m in self.modules()
            if isinstance(m, Unit)
            and getattr(m, "decode", "recompute") not in ("pointwise", "cached")
        }
        return sorted(found)

    def can_cache(self) -> bool:
        """Whether every unit decodes with a cache (pointwise or cached)."""
        return not self.uncached_units()

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        *,
        use_cache: bool | None = None,
        temperature: float = 0.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """``idx`` (B, T) followed by ``max_new_tokens`` tokens (B, T + max_new_tokens).

        Greedy at temperature 0, else sampled from the softmax at ``temperature`` (over the
        ``top_k`` likeliest tokens where given). ``use_cache`` (default: where every unit can)
        runs each new token alone against the cache; without it every step runs the whole
        sequence so far, as training does.
        """
        if use_cache is None:
            use_cache = self.can_cache()
        cache = DecodeCache() if use_cache else None
        out, step_in = idx, idx
        for _ in range(max_new_tokens):
            logits = (self(out) if cache is None else self(step_in, cache))[:, -1].float()
            if temperature <= 0:
                nxt = logits.argmax(-1, keepdim=True)
            else:
                logits = logits / temperature
                if top_k is not None:
                    kth = torch.topk(logits, min(top_k, logits.shape[-1])).values[:, -1:]
                    logits = logits.masked_fill(logits < kth, -float("inf"))
                probs = torch.softmax(logits, dim=-1)
                nxt = torch.multinomial(probs, 1, generator=generator)
            out = torch.cat([out, nxt], dim=1)
            step_in = nxt
        return out

    def num_params(self, non_embedding: bool = False) -> int:
        """Parameter count; ``non_embedding`` leaves out the (tied) token embedding."""
        total = sum(p.numel() for p in self.parameters())
        return total - self.wte.weight.numel() if non_embedding else total
