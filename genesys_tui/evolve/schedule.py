"""What to verify next, within the ladder's budgets.

Rung 0 gets a budget of designs (by default as many as the run makes); each higher rung about
``ratio`` times fewer. Library seeds are the baselines every score is read against, and they
do not count against the budget: all of them are verified first at the first rung; at a higher
rung only the best seed of the rung below is, once a design is due to be promoted there. A
design climbs to rung i once it has passed rung i-1 and is among the best there not yet
promoted; a promotion is due whenever rung i-1 has ``ratio`` times as many results as rung i
has promotions, so the cheap rung keeps working while the expensive ones fill slowly. A
verification that failed is recorded and never retried.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass
class DesignProgress:
    """Verification state of one checked design, per rung name."""

    id: str
    is_seed: bool = False
    passed: dict[str, float] = field(default_factory=dict)  # rung -> fitness at that rung
    failed: set[str] = field(default_factory=set)  # rungs whose verification failed
    order: int = 0  # commit order: earlier designs are verified first at rung 0


def rung_budgets(rungs: Sequence[str], first: int, ratio: float = 4.0) -> dict[str, int]:
    """``first`` designs at the first rung, then ``ratio`` times fewer at each next one."""
    budgets, b = {}, float(first)
    for rung in rungs:
        budgets[rung] = int(b)
        b /= ratio
    return budgets


def next_verification(
    designs: Mapping[str, DesignProgress],
    rungs: Sequence[str],
    budgets: Mapping[str, int],
    in_flight: set[tuple[str, str]],
    ratio: float = 4.0,
) -> tuple[str, str] | None:
    """The (design id, rung) to verify next, or None when nothing is due."""
    busy = {d for d, _ in in_flight}

    def free(p: DesignProgress, rung: str) -> bool:
        return p.id not in busy and rung not in p.passed and rung not in p.failed

    def used(rung: str) -> int:
        done = sum(
            1 for p in designs.values() if not p.is_seed and (rung in p.passed or rung in p.failed)
        )
        return done + sum(1 for d, r in in_flight if r == rung and not designs[d].is_seed)

    # 1. Baselines at the first rung: every score there is read against them.
    first = rungs[0]
    if budgets.get(first, 0) > 0:
        for p in sorted(designs.values(), key=lambda p: p.order):
            if p.is_seed and free(p, first):
                return p.id, first
    # 2. Promotions, highest rung first, when the rung below has earned one. Above the first
    #    rung one baseline is enough and the cheapest honest one: the best seed of the rung
    #    below, verified just before the first design is promoted past it.
    for i in range(len(rungs) - 1, 0, -1):
        rung, below = rungs[i], rungs[i - 1]
        if used(rung) >= budgets.get(rung, 0):
            continue
        results_below = sum(1 for p in designs.values() if not p.is_seed and below in p.passed)
        if results_below < ratio * (used(rung) + 1):
            continue
        seeds_below = [p for p in designs.values() if p.is_seed and below in p.passed]
        if seeds_below:
            best_seed = max(seeds_below, key=lambda p: (p.passed[below], -p.order))
            if free(best_seed, rung) and not any(
                p.is_seed and (rung in p.passed or rung in p.failed) for p in designs.values()
            ):
                return best_seed.id, rung
        ready = [
            p for p in designs.values() if not p.is_seed and below in p.passed and free(p, rung)
        ]
        if ready:
            best = max(ready, key=lambda p: (p.passed[below], -p.order))
            return best.id, rung
    # 3. The first rung, oldest design first.
    if used(first) < budgets.get(first, 0):
        waiting = [p for p in designs.values() if not p.is_seed and free(p, first)]
        if waiting:
            return min(waiting, key=lambda p: p.order).id, first
    return None
