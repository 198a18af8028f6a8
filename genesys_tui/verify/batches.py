"""Batches of (x, y) from a packed token stream, and bits per byte.

- ``BatchSampler``: training batches. Each row is a window of ``context + 1`` consecutive tokens
  at a start drawn uniformly from the stream by an explicitly seeded ``torch.Generator``;
  ``x`` is the window's first ``context`` tokens, ``y`` the last ``context`` (``x`` shifted by
  one). Same seed, same batches; its state can be saved and restored to resume a run exactly.
- ``eval_batches``: held-out evaluation. Non-overlapping windows that make every token of the
  stream after the first a target exactly once; the tail that does not fill a window comes as a
  last, shorter batch. No padding: every row is real tokens.
- ``bits_per_byte``: ``sum of target NLL (nats) / (ln 2 * UTF-8 bytes of the targets)``.

Windows cross document boundaries; the EOT between documents tells the model where one ends.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from genesys_tui.errors import VerifyError
from genesys_tui.verify.token_cache import TokenSplit


def _stream(tokens: TokenSplit | np.ndarray) -> np.ndarray:
    return tokens.tokens if isinstance(tokens, TokenSplit) else np.asarray(tokens)


def _check(n_tokens: int, batch_size: int, context: int) -> None:
    if batch_size < 1 or context < 1:
        raise VerifyError(f"batch_size ({batch_size}) and context ({context}) must be >= 1")
    if n_tokens < context + 1:
        raise VerifyError(
            f"the token stream has {n_tokens} tokens, fewer than context + 1 = {context + 1}: "
            "use a shorter context or a larger corpus"
        )


def _windows(stream: np.ndarray, starts: np.ndarray, length: int) -> torch.Tensor:
    index = starts[:, None] + np.arange(length)[None, :]  # (B, length)
    return torch.from_numpy(stream[index].astype(np.int64))


class BatchSampler:
    """Seeded random (x, y) training batches of shape ``(batch_size, context)``, int64.

    ``tokens``: a ``TokenSplit`` or a 1-D integer array (the packed stream). ``seed`` fixes the
    whole sequence of batches; ``device`` is where the tensors are put.
    """

    def __init__(
        self,
        tokens: TokenSplit | np.ndarray,
        batch_size: int,
        context: int,
        seed: int,
        device: str | torch.device = "cpu",
    ) -> None:
        self.stream = _stream(tokens)
        _check(len(self.stream), batch_size, context)
        self.batch_size = batch_size
        self.context = context
        self.device = torch.device(device)
        self.generator = torch.Generator().manual_seed(seed)
        self.step = 0  # batches drawn so far

    def sample(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next batch: ``x`` and ``y`` of shape ``(B, T)``, ``y[:, t] == x[:, t + 1]``
        except the last column, which is the token after the window."""
        high = len(self.stream) - self.context  # a start s needs tokens s .. s + context
        starts = torch.randint(0, high, (self.batch_size,), generator=self.generator)
        window = _windows(self.stream, starts.numpy(), self.context + 1)  # (B, T + 1)
        self.step += 1
        x, y = window[:, :-1], window[:, 1:]
        if self.device.type != "cpu":
            x = x.pin_memory().to(self.device, non_blocking=True)
            y = y.pin_memory().to(self.device, non_blocking=True)
        return x, y

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        while True:
            yield self.sample()

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue the same sequence of batches after a restart."""
        return {"generator": self.generator.get_state(), "step": self.step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.step = int(state["step"])


def eval_batches(
    tokens: TokenSplit | np.ndarray, batch_size: int, context: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Sequential, non-overlapping (x, y) batches over the whole stream, in order.

    Window ``i`` is ``stream[i*T : i*T + T + 1]``; full windows come ``batch_size`` at a time
    (the last group may be smaller), then the remainder as one ``(1, r)`` batch with
    ``r < context``. Together the ``y`` tensors are exactly ``stream[1:]``, once each, so the
    summed NLL over all batches divided by ``ln 2 * split.count_bytes(1)`` is the split's bits
    per byte.
    """
    stream = _stream(tokens)
    _check(len(stream), batch_size, context)
    n_targets = len(stream) - 1
    full = n_targets // context
    for first in range(0, full, batch_size):
        starts = np.arange(first, min(first + batch_size, full), dtype=np.int64) * context
        window = _windows(stream, starts, context + 1)
        yield window[:, :-1], window[:, 1:]
    rest = n_targets - full * context
    if rest:
        tail = torch.from_numpy(stream[full * context :].astype(np.int64))[None, :]  # (1, r+1)
        yield tail[:, :-1], tail[:, 1:]


def bits_per_byte(nll_nats: float, n_bytes: int) -> float:
    """Bits per UTF-8 byte from a summed negative log-likelihood in nats over target tokens
    covering ``n_bytes`` bytes. Equivalently ``mean_nll * n_tokens / (ln 2 * n_bytes)``."""
    if n_bytes <= 0:
        raise VerifyError(f"bits per byte needs a positive byte count, got {n_bytes}")
    return nll_nats / (math.log(2) * n_bytes)
