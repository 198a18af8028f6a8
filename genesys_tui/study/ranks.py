"""Rank statistics for the ladder's studies: average ranks with ties, Spearman's rho, Kendall's
tau-b, and bootstrap percentile intervals of both over resampled pairs. Pure Python: no torch,
no numpy.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass


def average_ranks(values: Sequence[float]) -> list[float]:
    """Ranks 1..n in ascending order of ``values``; tied values share their average rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for k in range(start, end + 1):
            ranks[order[k]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rho of two equally long sequences (Pearson's correlation of their average
    ranks, so ties are handled); None where either ranking is constant (rho is undefined)."""
    if len(x) != len(y):
        raise ValueError(f"spearman needs sequences of one length, got {len(x)} and {len(y)}")
    rx, ry = average_ranks(x), average_ranks(y)
    mean = (len(x) + 1) / 2  # the mean of average ranks 1..n, ties or not
    sxy = sum((a - mean) * (b - mean) for a, b in zip(rx, ry, strict=True))
    sxx = sum((a - mean) ** 2 for a in rx)
    syy = sum((b - mean) ** 2 for b in ry)
    if sxx == 0 or syy == 0:
        return None
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))


def kendall_tau_b(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Kendall's tau-b: (concordant - discordant) / sqrt((n0 - n1)(n0 - n2)), n0 the pairs,
    n1 those tied in x and n2 those tied in y; None where either sequence is constant.
    O(n^2) in the number of designs, which a namespace keeps small."""
    if len(x) != len(y):
        raise ValueError(f"kendall needs sequences of one length, got {len(x)} and {len(y)}")
    n = len(x)
    net = tied_x = tied_y = 0
    for i in range(n):
        xi, yi = x[i], y[i]
        for j in range(i + 1, n):
            dx, dy = xi - x[j], yi - y[j]
            if dx == 0 or dy == 0:
                tied_x += dx == 0
                tied_y += dy == 0
            elif (dx > 0) == (dy > 0):
                net += 1
            else:
                net -= 1
    pairs = n * (n - 1) // 2
    if tied_x == pairs or tied_y == pairs:
        return None
    return max(-1.0, min(1.0, net / math.sqrt((pairs - tied_x) * (pairs - tied_y))))


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ascending values, interpolated linearly between ranks."""
    pos = q * (len(sorted_values) - 1)
    low = math.floor(pos)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (pos - low)


@dataclass(frozen=True)
class Interval:
    """A bootstrap 95% percentile interval, and how many resamples it was drawn from."""

    low: float
    high: float
    used: int  # resamples where both rankings varied (the others were skipped)
    drawn: int  # resamples drawn


def bootstrap(
    x: Sequence[float], y: Sequence[float], resamples: int, seed: int
) -> tuple[Interval | None, Interval | None]:
    """(Spearman's, Kendall's) 95% percentile intervals over ``resamples`` resamples of the
    pairs with replacement, from ``random.Random(seed)``. A resample in which either ranking
    is constant has no correlation and is skipped; None where every resample was."""
    rng = random.Random(seed)
    n = len(x)
    rhos: list[float] = []
    taus: list[float] = []
    for _ in range(resamples):
        picked = [rng.randrange(n) for _ in range(n)]
        xs, ys = [x[i] for i in picked], [y[i] for i in picked]
        rho, tau = spearman(xs, ys), kendall_tau_b(xs, ys)
        if rho is None or tau is None:
            continue
        rhos.append(rho)
        taus.append(tau)
    if not rhos:
        return None, None
    out = []
    for values in (sorted(rhos), sorted(taus)):
        out.append(
            Interval(percentile(values, 0.025), percentile(values, 0.975), len(values), resamples)
        )
    return out[0], out[1]
