"""Training throughput: forward + backward + AdamW step, in tokens per second.

``compare`` runs several models in one process, alternating short timed rounds between them so
that drift in the machine's speed (turbo, other load) hits every model alike, and reports the
median of each model's rounds.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class Throughput:
    name: str
    tokens_per_second: float  # median over rounds
    rounds: tuple[float, ...]  # tokens/s of each round


def _make_step(
    model: nn.Module, batch: int, context: int, vocab: int, seed: int
) -> Callable[[], None]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randint(0, vocab, (batch, context), generator=gen)
    y = torch.randint(0, vocab, (batch, context), generator=gen)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.train()

    def step() -> None:
        logits = model(x)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def compare(
    models: Mapping[str, nn.Module],
    *,
    batch: int,
    context: int,
    vocab: int,
    steps: int = 3,
    rounds: int = 5,
    warmup: int = 2,
    seed: int = 0,
) -> list[Throughput]:
    """Time each model's training step, alternating rounds of ``steps`` steps between models."""
    runners = {name: _make_step(m, batch, context, vocab, seed) for name, m in models.items()}
    for run in runners.values():
        for _ in range(warmup):
            run()
    per_round: dict[str, list[float]] = {name: [] for name in runners}
    for r in range(rounds):
        order = list(runners) if r % 2 == 0 else list(reversed(runners))
        for name in order:
            t0 = time.perf_counter()
            for _ in range(steps):
                runners[name]()
            per_round[name].append(batch * context * steps / (time.perf_counter() - t0))
    return [Throughput(name, statistics.median(v), tuple(v)) for name, v in per_round.items()]
