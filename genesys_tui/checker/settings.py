"""The checker's settings: one frozen dataclass, read from the ``[check]`` table of a TOML file."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from genesys_tui.config import ModelConfig, from_mapping, load_toml
from genesys_tui.design import Design
from genesys_tui.errors import ConfigError
from genesys_tui.ladder import find_rung  # plain data: imports no torch

#: The runtime stages, cheapest first; ``CheckConfig.skip`` may name any of them.
RUNTIME_STAGES = (
    "build",
    "forward",
    "params",
    "determinism",  # before causality: state kept between calls would read as a leak there
    "causality",
    "decoding",  # cached decoding gives the forward pass's logits
    "gradients",
    "numerics",
    "overfit",
    "speed",
)


@dataclasses.dataclass(frozen=True)
class CheckConfig:
    """How the checker sizes, runs and judges a design. Sizes are small so a check is seconds."""

    # the tiny model every runtime check builds
    d_model: int = 64  # width D at which the design is built and run
    n_layers: int = 2  # depth N (raised to len(pattern) + 1 for a layer pattern)
    vocab_size: int = 256  # vocabulary V of the tiny model
    context_length: int = 48  # sequence length T; unlike D, so time and channels stay apart
    max_context_length: int = 256  # the most that raise may reach
    batch_size: int = 2  # sequences per batch B
    seed: int = 0  # seeds weights, data and perturbations: a check can be replayed
    threads: int = 1  # torch threads in the child (1 keeps parallel checks from fighting)
    # causality
    causality_points: int = 4  # positions t perturbed after, one per sequence of the batch
    causality_tol64: float = 1e-9  # allowed change at <= t, relative, when run in float64
    causality_tol32: float = 1e-5  # the same in float32 (used when float64 does not run)
    # lengths probed again, one below and one above each (63 and 65 for 64), as trained
    # (float32, gradients on in train mode), capped at the full context length (the rung's, or
    # budget_context_length), which is probed too; () probes the tiny context_length only
    causality_lengths: tuple[int, ...] = (64, 128, 256, 512)
    # parameter budget, counted at the rung's size (or the budget_* size) against the reference
    reference: str = "gpt"  # the library design budgets, time and memory compare against
    param_ratio_low: float = 0.8  # non-embedding parameters below this x reference: error
    param_ratio_high: float = 1.2  # ... above this x reference: error
    budget_d_model: int = 256  # size the budget is counted at when no rung is given
    budget_n_layers: int = 4
    budget_vocab_size: int = 4096
    budget_context_length: int = 256
    # time and memory of a training step against the reference at the same size
    bench_d_model: int = 128  # width of the timed models
    bench_context_length: int = 128  # sequence length of the timed step
    bench_batch_size: int = 4  # batch of the timed step
    bench_rounds: int = 5  # alternating timed rounds; the median counts
    speed_warn_ratio: float = 1.5  # step time above this x reference: warning
    speed_error_ratio: float = 3.0  # ... above this: error
    memory_warn_ratio: float = 1.5  # step memory above this x reference: warning
    memory_error_ratio: float = 3.0  # ... above this: error
    # learning
    overfit_steps: int = 10  # AdamW steps on one small batch
    overfit_lr: float = 1e-2  # their learning rate
    overfit_min_drop: float = 0.05  # the loss must fall by at least this fraction
    # the sandbox
    timeout_s: float = 60.0  # wall seconds for the runtime checks, from the child's start
    startup_timeout_s: float = 180.0  # wall seconds to start the child (importing torch)
    memory_limit_mb: int = 4096  # address-space limit of the child (RLIMIT_AS), MiB
    cpu_limit_s: int = 240  # CPU seconds of the child (RLIMIT_CPU), all threads together
    output_limit_mb: int = 16  # largest file the child may write (its captured stderr)
    skip: tuple[str, ...] = ()  # runtime stages not to run, e.g. ("speed",) on a busy machine

    def __post_init__(self) -> None:
        positive_ints = (
            "d_model", "n_layers", "vocab_size", "context_length", "max_context_length",
            "batch_size", "threads", "causality_points", "budget_d_model", "budget_n_layers",
            "budget_vocab_size", "budget_context_length", "bench_d_model",
            "bench_context_length", "bench_batch_size", "bench_rounds", "overfit_steps",
            "memory_limit_mb", "cpu_limit_s", "output_limit_mb",
        )  # fmt: skip
        for name in positive_ints:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"CheckConfig.{name} must be a positive integer, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ConfigError(f"CheckConfig.seed must be an integer, got {self.seed!r}")
        positive_floats = (
            "causality_tol64", "causality_tol32", "param_ratio_high", "speed_warn_ratio",
            "speed_error_ratio", "memory_warn_ratio", "memory_error_ratio", "overfit_lr",
            "timeout_s", "startup_timeout_s",
        )  # fmt: skip
        for name in positive_floats:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ConfigError(f"CheckConfig.{name} must be a positive number, got {value!r}")
        for name in ("param_ratio_low", "overfit_min_drop"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(f"CheckConfig.{name} must be a number >= 0, got {value!r}")
        if self.overfit_min_drop >= 1:
            raise ConfigError(
                f"CheckConfig.overfit_min_drop must be below 1, got {self.overfit_min_drop!r}"
            )
        if self.param_ratio_low > self.param_ratio_high:
            raise ConfigError("CheckConfig.param_ratio_low must not exceed param_ratio_high")
        for low, high in (
            ("speed_warn_ratio", "speed_error_ratio"),
            ("memory_warn_ratio", "memory_error_ratio"),
        ):
            if getattr(self, low) > getattr(self, high):
                raise ConfigError(f"CheckConfig.{low} must not exceed {high}")
        if self.context_length > self.max_context_length:
            raise ConfigError("CheckConfig.context_length must not exceed max_context_length")
        if self.context_length < 4:
            raise ConfigError("CheckConfig.context_length must be at least 4 to test causality")
        if not isinstance(self.reference, str) or not self.reference:
            raise ConfigError(
                f"CheckConfig.reference must name a library design, got {self.reference!r}"
            )
        if isinstance(self.causality_lengths, list):
            object.__setattr__(self, "causality_lengths", tuple(self.causality_lengths))
        if not isinstance(self.causality_lengths, tuple) or any(
            isinstance(n, bool) or not isinstance(n, int) or n < 4 for n in self.causality_lengths
        ):
            raise ConfigError(
                "CheckConfig.causality_lengths must list integers >= 4, got "
                f"{self.causality_lengths!r}"
            )
        if isinstance(self.skip, list):
            object.__setattr__(self, "skip", tuple(self.skip))
        if not isinstance(self.skip, tuple) or any(s not in RUNTIME_STAGES for s in self.skip):
            raise ConfigError(
                f"CheckConfig.skip must list runtime stages out of "
                f"{list(RUNTIME_STAGES)}, got {self.skip!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["skip"] = list(self.skip)
        data["causality_lengths"] = list(self.causality_lengths)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckConfig:
        """Build from a mapping (a TOML ``[check]`` table); unknown keys raise ConfigError."""
        return from_mapping(cls, data, "check")

    @classmethod
    def from_toml(cls, path: str | Path) -> CheckConfig:
        """Read the ``[check]`` table of the TOML file at ``path`` (defaults where absent)."""
        table = load_toml(path).get("check", {})
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [check] must be a table")
        return cls.from_dict(table)


def tiny_model_config(design: Design, config: CheckConfig) -> ModelConfig:
    """The size every runtime check builds ``design`` at.

    A layer pattern gets one block more than the pattern, so every block type both writes Z for
    a successor and reads Z from a predecessor. A unit that works in chunks (an int argument
    named ``*chunk*`` or ``*block_size*``) gets a sequence of two chunks and a ragged end, so
    state passed between chunks and padding are exercised too, up to ``max_context_length``.
    """
    n_layers = config.n_layers
    if len(design.roots) > 1:
        n_layers = max(n_layers, len(design.roots) + 1)
    T = config.context_length
    for node in design.units.values():
        decl = design.decls[node.id]
        for name, arg in decl.args.items():
            value = node.args.get(name, arg.default)
            if ("chunk" in name or "block_size" in name) and type(value) is int and value > 0:
                T = max(T, 2 * value + 3)
    T = min(T, config.max_context_length)
    return ModelConfig(
        d_model=config.d_model,
        n_layers=n_layers,
        vocab_size=config.vocab_size,
        context_length=T,
        dropout=0.0,
    )


def budget_model_config(config: CheckConfig, rung: str | None = None) -> ModelConfig:
    """The size parameters are counted at: the GPT reference's width and depth at rung ``rung``
    of the built-in ladders, else the budget_* size. The vocabulary does not matter: the count
    leaves the (tied) embedding out.

    Raises ConfigError for a rung the ladders do not know.
    """
    if rung is None:
        return ModelConfig(
            d_model=config.budget_d_model,
            n_layers=config.budget_n_layers,
            vocab_size=config.budget_vocab_size,
            context_length=config.budget_context_length,
        )
    found = find_rung(rung)
    return ModelConfig(
        d_model=found.d_model,
        n_layers=found.n_layers,
        vocab_size=config.budget_vocab_size,
        context_length=found.context_length,
    )
