"""Time against sequence length: forward + backward of whole models at growing T.

Batch and width stay fixed while T grows, so a linear-time sequence mixer's time grows like T
and attention's like T^2 once T is long enough. The figure that tells them apart is the ratio
time(4T) / time(T): about 4 for linear time, up to 16 for quadratic (less where the
position-wise layers, which are linear in T, still dominate).

Runs alternate between designs and lengths, round by round, so drift in the machine's speed
(turbo, other processes) hits every measurement alike; each figure is the median of its rounds.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from genesys_tui.config import ModelConfig
from genesys_tui.design import Design
from genesys_tui.errors import ConfigError
from genesys_tui.units.lm import LanguageModel, build_lm


@dataclass(frozen=True)
class ScalingSettings:
    """What ``measure`` times: every design at every length, same batch and width."""

    lengths: tuple[int, ...] = (512, 1024, 2048, 4096)  # sequence lengths T, ascending
    d_model: int = 128  # width D of every model
    n_layers: int = 2  # blocks N of every model
    batch: int = 1  # sequences per forward + backward
    vocab_size: int = 512  # small, so the output head does not hide the mixers
    repeats: int = 3  # timed rounds; each figure is the median of these
    warmup: int = 1  # untimed rounds first (allocator, kernel selection)
    seed: int = 0  # weights and tokens

    def __post_init__(self) -> None:
        lengths = self.lengths
        if not lengths or any(
            isinstance(t, bool) or not isinstance(t, int) or t < 1 for t in lengths
        ):
            raise ConfigError(f"ScalingSettings.lengths must be positive integers, got {lengths}")
        if list(lengths) != sorted(set(lengths)):
            raise ConfigError(f"ScalingSettings.lengths must be distinct and ascending: {lengths}")
        for name in ("d_model", "n_layers", "batch", "vocab_size", "repeats"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(
                    f"ScalingSettings.{name} must be a positive integer, got {value!r}"
                )
        if isinstance(self.warmup, bool) or not isinstance(self.warmup, int) or self.warmup < 0:
            raise ConfigError(
                f"ScalingSettings.warmup must be an integer >= 0, got {self.warmup!r}"
            )

    def ratio_pair(self) -> tuple[int, int]:
        """(short, long) lengths of the reported ratio: (T/4, T) for the longest T if measured,
        else (shortest, longest)."""
        longest = self.lengths[-1]
        short = longest // 4
        return (
            (short, longest)
            if short * 4 == longest and short in self.lengths
            else (self.lengths[0], longest)
        )


@dataclass(frozen=True)
class ScalingResult:
    """One design's forward + backward time per sequence length, in seconds."""

    name: str
    seconds: Mapping[int, float]  # T -> median seconds of one forward + backward
    rounds: Mapping[int, tuple[float, ...]] = field(default_factory=dict)  # T -> every round

    def ratio(self, short: int, long: int) -> float:
        """time(long) / time(short)."""
        return self.seconds[long] / self.seconds[short]


def _fwd_bwd(model: LanguageModel, tokens: torch.Tensor) -> float:
    """Seconds for one forward, loss and backward pass; gradients are dropped afterwards."""
    t0 = time.perf_counter()
    logits = model(tokens[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), tokens[:, 1:].reshape(-1))
    loss.backward()
    seconds = time.perf_counter() - t0
    model.zero_grad(set_to_none=True)
    return seconds


def measure(
    designs: Sequence[Design], settings: ScalingSettings | None = None
) -> list[ScalingResult]:
    """Time every design at every length; results in the order of ``designs``."""
    s = settings or ScalingSettings()
    config = ModelConfig(
        d_model=s.d_model,
        n_layers=s.n_layers,
        vocab_size=s.vocab_size,
        context_length=s.lengths[-1],
    )
    models = {d.name: build_lm(d, config, seed=s.seed).train() for d in designs}
    gen = torch.Generator().manual_seed(s.seed)
    # T + 1 tokens: inputs are the first T, targets the last T.
    tokens = {T: torch.randint(0, s.vocab_size, (s.batch, T + 1), generator=gen) for T in s.lengths}
    runs: dict[str, dict[int, list[float]]] = {n: {T: [] for T in s.lengths} for n in models}
    for r in range(s.warmup + s.repeats):
        names = list(models) if r % 2 == 0 else list(reversed(models))
        for T in s.lengths:
            for name in names:
                seconds = _fwd_bwd(models[name], tokens[T])
                if r >= s.warmup:
                    runs[name][T].append(seconds)
    return [
        ScalingResult(
            name,
            {T: statistics.median(v) for T, v in per_t.items()},
            {T: tuple(v) for T, v in per_t.items()},
        )
        for name, per_t in runs.items()
    ]


def format_table(results: Sequence[ScalingResult], settings: ScalingSettings) -> str:
    """A text table: one row per design, milliseconds per length, then time(long)/time(short)."""
    short, long = settings.ratio_pair()
    ratio_head = f"t({long})/t({short})"
    head = f"{'design':<10}" + "".join(f"{f'T={T}':>10}" for T in settings.lengths)
    lines = [
        f"forward + backward time (ms, median of {settings.repeats}) at d_model="
        f"{settings.d_model}, n_layers={settings.n_layers}, batch={settings.batch}, "
        f"vocab={settings.vocab_size}, {torch.get_num_threads()} threads",
        f"{head}{ratio_head:>16}",
    ]
    for r in results:
        row = "".join(f"{r.seconds[T] * 1e3:>10.1f}" for T in settings.lengths)
        lines.append(f"{r.name:<10}{row}{r.ratio(short, long):>16.2f}")
    lines.append(
        f"linear time gives t({long})/t({short}) ~ {long / short:g}; "
        f"quadratic up to {(long / short) ** 2:g}"
    )
    return "\n".join(lines)
