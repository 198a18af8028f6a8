"""Held-out metrics: validation loss (nats per token) and bits per byte, and the held-out
windows a rung scores (``evaluate_split``).

Loss per token depends on the tokenizer: a model with a larger vocabulary predicts fewer, harder
tokens. Bits per byte divides the total code length by the UTF-8 bytes of the text scored, so
designs trained with different tokenizers compare fairly. The bytes of a token stream come from
the tokenizer's ``token_bytes()`` table (end-of-text covers no bytes, but its prediction is still
charged: a model must pay to say where a document ends).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from genesys_tui.errors import VerifyError
from genesys_tui.ladder import Rung
from genesys_tui.verify.batches import bits_per_byte, eval_batches
from genesys_tui.verify.corpus import CorpusSource
from genesys_tui.verify.token_cache import TokenSplit, load_tokens

__all__ = ["Evaluation", "bits_per_byte", "evaluate", "evaluate_split", "first_windows"]


@dataclass(frozen=True)
class Evaluation:
    """The scores of one pass over held-out windows."""

    loss: float  # mean cross-entropy per predicted token, nats
    bpb: float  # bits per UTF-8 byte of the predicted tokens
    tokens: int  # tokens predicted
    bytes: int  # UTF-8 bytes those tokens stand for
    nats: float  # summed cross-entropy, nats

    def to_dict(self) -> dict[str, float | int]:
        return {
            "val_loss": self.loss,
            "bpb": self.bpb,
            "eval_tokens": self.tokens,
            "eval_bytes": self.bytes,
        }


@torch.no_grad()
def evaluate(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    token_bytes: np.ndarray | torch.Tensor,
    device: torch.device | str = "cpu",
    autocast_dtype: torch.dtype | None = None,
) -> Evaluation:
    """Score ``model`` on ``batches`` of (inputs, targets), each (B, T) token ids.

    ``token_bytes[i]`` is the number of UTF-8 bytes token ``i`` stands for. Logits are scored in
    float32 even under autocast, and sums accumulate in float64, so long evaluations do not lose
    precision. The model is put in eval mode and returned to its previous mode.
    """
    device = torch.device(device)
    table = torch.as_tensor(np.asarray(token_bytes), dtype=torch.int64, device=device)
    was_training = model.training
    model.eval()
    nats, n_tokens, n_bytes = 0.0, 0, 0
    try:
        for x, y in batches:
            x, y = x.to(device), y.to(device)
            ctx = (
                torch.autocast(device.type, dtype=autocast_dtype)
                if autocast_dtype
                else contextlib.nullcontext()
            )
            with ctx:
                logits = model(x)  # (B, T, V)
            loss = F.cross_entropy(logits.float().flatten(0, 1), y.flatten(), reduction="sum")
            nats += float(loss.double())
            n_tokens += y.numel()
            n_bytes += int(table[y].sum())
    finally:
        model.train(was_training)
    if n_tokens == 0:
        raise VerifyError(
            "the held-out split gave no windows to evaluate; it is shorter than "
            "one context: use a smaller context or a larger held-out split"
        )
    return Evaluation(
        loss=nats / n_tokens,
        bpb=bits_per_byte(nats, n_bytes),
        tokens=n_tokens,
        bytes=n_bytes,
        nats=nats,
    )


def evaluate_split(
    model: nn.Module,
    rung: Rung,
    source: CorpusSource | None = None,
    cache_dir: str | Path | None = None,
    device: torch.device | str = "cpu",
    amp: torch.dtype | None = None,
    split: str = "validation",
) -> Evaluation:
    """Val loss and bits per byte of ``model`` on the first ``rung.eval_tokens`` targets of
    ``split``, in whole non-overlapping windows of the rung's context, read in order."""
    held_out = load_tokens(split, rung.tokenizer, source, cache_dir)
    return evaluate(model, first_windows(held_out, rung), held_out.token_bytes, device, amp)


def first_windows(split: TokenSplit, rung: Rung) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Whole windows from the start of ``split`` while they fit in ``rung.eval_tokens`` (at
    least one window, so a tiny budget still scores something)."""
    budget, scored = rung.eval_tokens, False
    for x, y in eval_batches(split, rung.micro, rung.context_length):
        rows = min(y.shape[0], max(budget // y.shape[1], 0 if scored else 1))
        if rows == 0:
            return
        yield x[:rows], y[:rows]
        budget -= rows * y.shape[1]
        scored = True
