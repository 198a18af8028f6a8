"""Fitness: a score per rung, a rank across the population, a confidence per design.

Pure functions of plain numbers (no torch), so the loop, the dashboard and the tests share them.

- **Rung score** (``rung_score``): a weighted mean of skill terms, each 0 for a model that knows
  nothing and 1 for a perfect one, so terms of different kinds add up fairly:
  bits per byte as ``1 - bpb / bpb_reference`` (8 bits, a uniform byte, is the reference), and
  each task accuracy as ``(acc - chance) / (1 - chance)``.
- **Rank** (``massey_ratings``): designs are compared pairwise on every metric both were measured
  on at the same rung, as the seed paper does with Massey's method: each comparison is a game
  whose margin is the difference of the two values; the ratings ``r`` solve the least-squares
  system ``r_a - r_b = margin`` over all games (with the ratings summing to zero). Unlike z-scores
  or Borda counts over one shared table, this ranks designs measured on different subsets of
  tasks and rungs, which is the normal state of an evolving population.
- **Confidence** (``confidence``): the share of the ladder's evidence a design has, each rung
  counting ``rung_growth`` times the one below (higher rungs train longer and measure better).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from genesys_tui.errors import ConfigError

BPB = "bpb"  # the metric name bits per byte is ranked under


@dataclass(frozen=True)
class FitnessSettings:
    """How scores become fitness. Loaded from the ``[fitness]`` table of a settings file."""

    bpb_weight: float = 1.0  # weight of the bits-per-byte term in a rung's score
    task_weight: float = 1.0  # weight of each task's term unless task_weights names it
    task_weights: Mapping[str, float] = field(default_factory=dict)  # task -> weight
    chance: Mapping[str, float] = field(default_factory=dict)  # task -> accuracy at chance
    default_chance: float = 0.5  # chance accuracy of tasks not in `chance` (two-way choice)
    bpb_reference: float = 8.0  # bits per byte that score 0 (8: a uniform byte)
    rung_growth: float = 2.0  # how many times a rung's evidence counts the one's below it

    def __post_init__(self) -> None:
        for name in ("bpb_weight", "task_weight"):
            if not _number(getattr(self, name)) or getattr(self, name) < 0:
                raise ConfigError(f"fitness.{name} must be a number >= 0")
        for task, w in self.task_weights.items():
            if not _number(w) or w < 0:
                raise ConfigError(f"fitness.task_weights.{task} must be a number >= 0")
        for task, c in {**self.chance, "default_chance": self.default_chance}.items():
            if not _number(c) or not 0 <= c < 1:
                where = task if task == "default_chance" else f"chance.{task}"
                raise ConfigError(f"fitness.{where} must be in [0, 1), got {c!r}")
        if not _number(self.bpb_reference) or self.bpb_reference <= 0:
            raise ConfigError("fitness.bpb_reference must be a positive number")
        if not _number(self.rung_growth) or self.rung_growth < 1:
            raise ConfigError("fitness.rung_growth must be a number >= 1")

    def weight(self, task: str) -> float:
        return float(self.task_weights.get(task, self.task_weight))

    def chance_of(self, task: str) -> float:
        return float(self.chance.get(task, self.default_chance))


def _number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def skill(acc: float, chance: float) -> float:
    """Accuracy rescaled so chance is 0 and perfect is 1 (below chance is negative)."""
    return (acc - chance) / (1.0 - chance)


def rung_score(
    bpb: float | None, accuracy: Mapping[str, float], settings: FitnessSettings | None = None
) -> float:
    """One rung's score: the weighted mean of the bpb term and the tasks' skill terms.

    ``bpb`` None (not measured) or not finite (a diverged run) leaves the bpb term out, or,
    when not finite, scores the term as the reference's 0. Raises ValueError when there is
    nothing to score (no bpb and no task with a positive weight).
    """
    s = settings or FitnessSettings()
    terms: list[tuple[float, float]] = []
    if bpb is not None and s.bpb_weight > 0:
        bpb_term = 1.0 - bpb / s.bpb_reference if math.isfinite(bpb) else 0.0
        terms.append((s.bpb_weight, bpb_term))
    for task, acc in sorted(accuracy.items()):
        if s.weight(task) > 0:
            terms.append((s.weight(task), skill(acc, s.chance_of(task))))
    total = sum(w for w, _ in terms)
    if total <= 0:
        raise ValueError("a rung score needs bpb or at least one task with a positive weight")
    return sum(w * v for w, v in terms) / total


def metrics_of(bpb: float | None, accuracy: Mapping[str, float]) -> dict[str, float]:
    """The metrics a design is ranked on, each higher-is-better (bpb enters negated)."""
    out = {task: float(acc) for task, acc in accuracy.items()}
    if bpb is not None and math.isfinite(bpb):
        out[BPB] = -float(bpb)
    return out


def massey_ratings(results: Mapping[str, Mapping[str, Mapping[str, float]]]) -> dict[str, float]:
    """Massey ratings of designs from ``{design: {rung: {metric: value}}}`` (higher is better).

    Every two designs measured on the same metric at the same rung play one game with margin
    ``value_a - value_b``. The ratings are the least-squares solution of ``r_a - r_b = margin``
    over all games, with the ratings of each group of designs connected by games summing to
    zero; a design that played no game rates 0. Deterministic.
    """
    import numpy as np

    names = sorted(results)
    index = {n: i for i, n in enumerate(names)}
    n = len(names)
    if n == 0:
        return {}
    M = np.zeros((n, n))  # Massey matrix: games on the diagonal, minus games between pairs
    p = np.zeros(n)  # summed margins
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            for rung, ma in results[a].items():
                mb = results[b].get(rung, {})
                for metric in sorted(set(ma) & set(mb)):
                    margin = float(ma[metric]) - float(mb[metric])
                    ia, ib = index[a], index[b]
                    M[ia, ia] += 1
                    M[ib, ib] += 1
                    M[ia, ib] -= 1
                    M[ib, ia] -= 1
                    p[ia] += margin
                    p[ib] -= margin
    # ratings are defined up to a constant per connected group of designs: pin each group's
    # sum to zero (a design that played nobody is a group of one and rates 0)
    r = np.zeros(n)
    for group in _components(M):
        sub = M[np.ix_(group, group)]
        A = np.vstack([sub, np.ones((1, len(group)))])
        y = np.append(p[group], 0.0)
        r[group] = np.linalg.lstsq(A, y, rcond=None)[0]
    return {name: float(r[index[name]]) for name in names}


def _components(M: Any) -> list[list[int]]:
    """Index groups of designs connected by games (off-diagonal entries of M)."""
    n = len(M)
    seen: set[int] = set()
    groups = []
    for start in range(n):
        if start in seen:
            continue
        stack, group = [start], []
        seen.add(start)
        while stack:
            i = stack.pop()
            group.append(i)
            for j in range(n):
                if j not in seen and M[i, j] != 0:
                    seen.add(j)
                    stack.append(j)
        groups.append(sorted(group))
    return groups


def rank(ratings: Mapping[str, float]) -> list[str]:
    """Designs best first; ties broken by name so the order is reproducible."""
    return sorted(ratings, key=lambda d: (-ratings[d], d))


def confidence(
    passed: Sequence[int], n_rungs: int, settings: FitnessSettings | None = None
) -> float:
    """How much of the ladder's evidence a design has: in [0, 1], 1 when every rung is passed.

    ``passed`` holds the indices (0 = cheapest) of the rungs the design has been verified on;
    rung ``i`` counts ``rung_growth ** i``.
    """
    if n_rungs < 1:
        raise ValueError(f"a ladder has at least one rung, got {n_rungs}")
    g = (settings or FitnessSettings()).rung_growth
    bad = [i for i in passed if not 0 <= i < n_rungs]
    if bad:
        raise ValueError(f"rung indices {bad} are outside a ladder of {n_rungs} rungs")
    total = sum(g**i for i in range(n_rungs))
    return sum(g**i for i in set(passed)) / total
