"""The loss curve a rung result keeps: thinned evenly, ends kept, non-finite losses dropped."""

from __future__ import annotations

import itertools
import math

from genesys_tui.evolve.jobs import thin


def test_a_short_curve_is_kept_whole() -> None:
    curve = [(1, 5.0), (2, 4.5), (3, 4.25)]
    assert thin(curve) == [[1, 5.0], [2, 4.5], [3, 4.25]]


def test_a_long_curve_keeps_evenly_spread_points_and_both_ends() -> None:
    curve = [(step, 10.0 / step) for step in range(1, 1955)]
    kept = thin(curve, most=256)
    steps = [s for s, _ in kept]
    assert len(kept) == 256 and steps[0] == 1 and steps[-1] == 1954
    assert steps == sorted(set(steps))
    gaps = {b - a for a, b in itertools.pairwise(steps)}
    assert gaps <= {7, 8}  # 1,953 steps over 255 gaps
    assert all(loss == round(10.0 / s, 5) for s, loss in kept)


def test_nan_and_infinite_losses_are_left_out() -> None:
    curve = [(1, 5.0), (2, math.nan), (3, math.inf), (4, 4.0)]
    assert thin(curve) == [[1, 5.0], [4, 4.0]]
