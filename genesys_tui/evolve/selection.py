"""Parent selection: which designs to build on, and how (mutation, crossover, scratch).

The default follows the seed paper's scheme. Designs are placed by fitness rank and by
confidence (how many rungs of the ladder they have passed). Most of the time the selector
exploits: it samples among the top designs, weighting rank by confidence, so a design that
scored well at one cheap rung counts for less than one confirmed at several. With probability
``p_explore`` it explores: it samples among designs with little evidence (low confidence),
whatever their rank. With probability ``p_restart`` it starts again from a library seed, and the
first ``warmup`` designs all grow from the seeds. Other strategies implement ``Selector``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from genesys_tui.designer import Kind
from genesys_tui.errors import ConfigError


@dataclass(frozen=True)
class Candidate:
    """What selection knows about a design that passed the checker."""

    id: str
    fitness: float | None  # None until verified at some rung
    confidence: float  # in [0, 1]: the share of the ladder's rungs it has passed
    is_seed: bool  # a library design


@dataclass(frozen=True)
class Choice:
    kind: Kind
    parents: tuple[str, ...]
    reason: str  # "exploit", "explore", "restart", "warm-up", "scratch"


@dataclass(frozen=True)
class SelectionConfig:
    warmup: int = 5  # the first designs are all mutations of library seeds
    p_explore: float = 0.25  # chance to pick among designs with little evidence
    p_restart: float = 0.05  # chance to start again from a library seed
    p_crossover: float = 0.2  # chance that a pick becomes a crossover with a second parent
    p_scratch: float = 0.05  # chance to compose a design from scratch
    top_k: int = 8  # exploit samples among this many best designs
    temperature: float = 0.5  # softmax temperature over exploit scores in [0, 1]

    def __post_init__(self) -> None:
        probs = ("p_explore", "p_restart", "p_crossover", "p_scratch")
        for name in probs:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"selection.{name} must be within [0, 1]")
        if self.p_restart + self.p_scratch > 1.0:
            raise ConfigError("selection.p_restart + selection.p_scratch must not exceed 1")
        if self.top_k < 1 or self.warmup < 0 or self.temperature <= 0:
            raise ConfigError("selection.top_k >= 1, warmup >= 0 and temperature > 0 required")


class Selector(Protocol):
    def select(
        self, candidates: Sequence[Candidate], n_made: int, rng: random.Random
    ) -> Choice: ...


class LadderSelector:
    """The paper's exploit / explore / restart scheme over fitness rank and confidence."""

    def __init__(self, config: SelectionConfig | None = None) -> None:
        self.config = config or SelectionConfig()

    def select(self, candidates: Sequence[Candidate], n_made: int, rng: random.Random) -> Choice:
        cfg = self.config
        seeds = sorted(c.id for c in candidates if c.is_seed)
        grown = [c for c in candidates if not c.is_seed]
        r = rng.random()
        if r < cfg.p_scratch:
            return Choice("scratch", (), "scratch")
        if not seeds and not grown:
            return Choice("scratch", (), "scratch")
        if seeds and (n_made < cfg.warmup or not grown or r < cfg.p_scratch + cfg.p_restart):
            reason = "warm-up" if n_made < cfg.warmup or not grown else "restart"
            return Choice("mutation", (rng.choice(seeds),), reason)
        if rng.random() < cfg.p_explore:
            first, reason = self._explore(candidates, rng), "explore"
        else:
            first, reason = self._exploit(candidates, rng, exclude=()), "exploit"
        if len(candidates) > 1 and rng.random() < cfg.p_crossover:
            second = self._exploit(candidates, rng, exclude=(first,))
            return Choice("crossover", (first, second), reason)
        return Choice("mutation", (first,), reason)

    def _exploit(
        self, candidates: Sequence[Candidate], rng: random.Random, exclude: tuple[str, ...]
    ) -> str:
        pool = [c for c in candidates if c.id not in exclude]
        scores = exploit_scores(pool)
        ranked = sorted(pool, key=lambda c: (-scores[c.id], c.id))[: self.config.top_k]
        weights = [math.exp(scores[c.id] / self.config.temperature) for c in ranked]
        return rng.choices([c.id for c in ranked], weights)[0]

    def _explore(self, candidates: Sequence[Candidate], rng: random.Random) -> str:
        # Least evidence first: the designs whose confidence is lowest, ties broken at random.
        low = min(c.confidence for c in candidates)
        uncertain = sorted(c.id for c in candidates if c.confidence <= low + 1e-9)
        return rng.choice(uncertain)


def exploit_scores(candidates: Sequence[Candidate]) -> dict[str, float]:
    """Score in [0, 1]: fitness rank (1 = best) times (0.5 + 0.5 * confidence).

    Unverified designs rank below every verified one.
    """
    verified = sorted(
        (c for c in candidates if c.fitness is not None), key=lambda c: (c.fitness, c.id)
    )
    n = len(verified)
    rank = {c.id: (i + 1) / n for i, c in enumerate(verified)}
    return {c.id: rank.get(c.id, 0.0) * (0.5 + 0.5 * c.confidence) for c in candidates}
