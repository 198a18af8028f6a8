"""What to verify next, within the ladder's budgets.

Rung 0 gets a budget of designs (by default as many as the run makes); each higher rung about
``ratio`` times fewer. Library seeds are the baselines every score is read against, and they
do not count against the budget: all of them are verified first at the first rung; at a higher
rung only the best seed of the rung below is, once a design is due to be promoted there. A
design climbs to rung i once it has passed rung i-1 and is among the best there not yet
promoted; a promotion is due whenever rung i-1 has ``ratio`` times as many results as rung i
has promotions, so the cheap rung keeps working while the expensive ones fill slowly. A
verification that failed is recorded and never retried.

Rungs differ in cost by far more than ``ratio`` (on the CPU ladder a cpu-s run costs about 50
cpu-xs runs), so counting alone would hand nearly all of a worker's time to promotions while
new designs queue at the first rung. While designs wait there, a due promotion is therefore
held back when one of the rungs above the first is running, or when running it would give those
rungs more than ``upper_share`` of the seconds spent verifying (its own seconds estimated from
its earlier runs, or before it has any, from the first rung's scaled by the rungs' relative
costs); with nothing waiting it goes at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field


@dataclass
class DesignProgress:
    """Verification state of one checked design, per rung name."""

    id: str
    is_seed: bool = False
    passed: dict[str, float] = field(default_factory=dict)  # rung -> fitness at that rung
    failed: set[str] = field(default_factory=set)  # rungs whose verification failed
    order: int = 0  # commit order: earlier designs are verified first at rung 0
    seconds: dict[str, float] = field(default_factory=dict)  # rung -> seconds its run took


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
    upper_share: float = 1.0,
    costs: Mapping[str, float] | None = None,
) -> tuple[str, str] | None:
    """The (design id, rung) to verify next, or None when nothing is due.

    ``costs``: each rung's relative cost (any unit), to estimate a rung's seconds before it has
    run once, from the first rung's measured seconds.
    """
    busy = {d for d, _ in in_flight}

    def free(p: DesignProgress, rung: str) -> bool:
        return p.id not in busy and rung not in p.passed and rung not in p.failed

    def used(rung: str) -> int:
        return used_at(designs, rung, in_flight)

    # 1. Baselines at the first rung: every score there is read against them.
    first = rungs[0]
    if budgets.get(first, 0) > 0:
        for p in sorted(designs.values(), key=lambda p: p.order):
            if p.is_seed and free(p, first):
                return p.id, first
    waiting_first = used(first) < budgets.get(first, 0) and any(
        not p.is_seed and free(p, first) for p in designs.values()
    )
    holding = waiting_first and upper_share < 1
    if not (holding and any(rung != first for _, rung in in_flight)):
        promotion = _due_promotion(designs, rungs, budgets, ratio, free, used)
        if promotion is not None and (
            not holding or _fits_share(designs, first, promotion[1], upper_share, costs)
        ):
            return promotion
    # 3. The first rung, oldest design first.
    if waiting_first:
        waiting = [p for p in designs.values() if not p.is_seed and free(p, first)]
        return min(waiting, key=lambda p: p.order).id, first
    return None


def _fits_share(
    designs: Mapping[str, DesignProgress],
    first: str,
    rung: str,
    upper_share: float,
    costs: Mapping[str, float] | None,
) -> bool:
    """Whether a run at ``rung`` keeps the rungs above the first within ``upper_share`` of the
    verification seconds, counting the run itself at its estimated seconds."""
    spent_first = sum(p.seconds.get(first, 0.0) for p in designs.values())
    spent_upper = sum(s for p in designs.values() for r, s in p.seconds.items() if r != first)
    estimate = _estimate(designs, first, rung, costs)
    total = spent_first + spent_upper + estimate
    return total <= 0 or spent_upper + estimate <= upper_share * total


def _estimate(
    designs: Mapping[str, DesignProgress], first: str, rung: str, costs: Mapping[str, float] | None
) -> float:
    """Seconds a run at ``rung`` will take: the mean of its runs so far, else the first rung's
    mean scaled by the rungs' relative costs, else 0 (unknown)."""

    def mean(r: str) -> float | None:
        done = [p.seconds[r] for p in designs.values() if r in p.seconds]
        return sum(done) / len(done) if done else None

    seen = mean(rung)
    if seen is not None:
        return seen
    base = mean(first)
    if base is None or not costs or not costs.get(first) or rung not in costs:
        return 0.0
    return base * costs[rung] / costs[first]


def _due_promotion(
    designs: Mapping[str, DesignProgress],
    rungs: Sequence[str],
    budgets: Mapping[str, int],
    ratio: float,
    free: Callable[[DesignProgress, str], bool],
    used: Callable[[str], int],
) -> tuple[str, str] | None:
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
    return None


def used_at(
    designs: Mapping[str, DesignProgress], rung: str, in_flight: set[tuple[str, str]]
) -> int:
    """Grown designs that took a place in ``rung``'s budget: verified there (passed or failed)
    or being verified there now. Seeds are baselines and take none."""
    grown = {p.id for p in designs.values() if not p.is_seed}
    done = sum(1 for d in grown if rung in designs[d].passed or rung in designs[d].failed)
    return done + sum(1 for d, r in in_flight if r == rung and d in grown)


def waiting_at(
    designs: Mapping[str, DesignProgress],
    rung: str,
    in_flight: set[tuple[str, str]],
    budget: int,
) -> int:
    """Grown designs that passed the check and will still be verified at ``rung`` (its
    ``budget`` of grown designs not yet used up), none in flight there: the designer's lead
    over the verifier."""
    grown = sum(1 for p in designs.values() if not p.is_seed)
    used = used_at(designs, rung, in_flight)
    return max(0, min(grown - used, budget - used))
