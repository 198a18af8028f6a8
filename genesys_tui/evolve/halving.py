"""Stopping a losing verification early (successive halving, as a median stopping rule).

With ``evolve.halving = F`` (0 < F < 1), once a rung holds at least ``HALVING_MIN`` finished
designs with loss curves, every new verification at that rung is watched from the coordinator's
side: when it reaches F of its steps, its training loss there (the mean over the last window,
as ``study halving`` measures it) is compared with the median of the finished designs' losses at
the same point; above it, the cell is stopped and the design fails the rung with the reason.
Only the coordinator decides, from the progress events it receives; the design's code cannot
stop itself or another run. ``genesys study halving`` measures what this costs in fidelity on
the recorded curves (at F = 0.5 the loss there ranked cpu-xs, cpu-s8 and cpu-s designs as their
finished results did, Spearman 0.94 to 0.98).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from genesys_tui.results import rung_results

HALVING_MIN = 8  # finished designs with curves a rung needs before halving applies there
WINDOW = 0.05  # share of a run's steps whose losses are averaged before the stop (one step's
# loss is one noisy batch)


def early_loss(
    curve: Sequence[tuple[int, float]], fraction: float, last: int | None = None
) -> float | None:
    """The mean training loss over the last WINDOW of the run before ``fraction`` of its last
    step (``last``, default the curve's last recorded step); the nearest point at or before
    that, where the window holds none."""
    if not curve:
        return None
    last = curve[-1][0] if last is None else last
    hi, lo = fraction * last, (fraction - WINDOW) * last
    points = [loss for step, loss in curve if lo <= step <= hi and math.isfinite(loss)]
    if not points:
        points = [loss for step, loss in curve if step <= hi and math.isfinite(loss)][-1:]
    return sum(points) / len(points) if points else None


def halving_threshold(
    curves: Iterable[Sequence[tuple[int, float]]], fraction: float
) -> float | None:
    """The median loss at ``fraction`` of the finished runs' steps; None with fewer than
    HALVING_MIN curves."""
    losses = [x for x in (early_loss(c, fraction) for c in curves) if x is not None]
    return statistics.median(losses) if len(losses) >= HALVING_MIN else None


class EarlyStop:
    """Watches one run's progress events; ``losing(event)`` is True once, at the first event at
    or past ``fraction`` of the steps, when the loss there is above ``threshold``."""

    def __init__(self, fraction: float, threshold: float) -> None:
        self.fraction, self.threshold = fraction, threshold
        self.points: list[tuple[int, float]] = []
        self.decided = False
        self.reason = ""

    def losing(self, event: dict[str, Any]) -> bool:
        if self.decided:
            return False
        try:
            step, total, loss = int(event["step"]), int(event["total_steps"]), float(event["loss"])
        except (KeyError, TypeError, ValueError):
            return False
        if not math.isfinite(loss) or total <= 0:
            return False
        self.points.append((step, loss))
        if step < self.fraction * total:
            return False
        self.decided = True
        early = early_loss(self.points, self.fraction, last=total)
        if early is None or early <= self.threshold:
            return False
        self.reason = (
            f"stopped early at {self.fraction:.0%} of its steps: its training loss there, "
            f"{early:.4f}, is above the median of the rung's finished designs, "
            f"{self.threshold:.4f} (evolve.halving)"
        )
        return True


@dataclass(frozen=True)
class Curve:
    """One design's finished result at the rung and its training-loss curve."""

    design: str
    score: float
    bpb: float
    curve: tuple[tuple[int, float], ...]


def rung_curves(repo, rung: str) -> list[Curve]:
    """The designs of ``repo`` with an ok result at ``rung`` holding a score, bits per byte and
    a curve, in the order they were made."""
    out = []
    for record in sorted(repo.records(), key=lambda r: r.seq):
        result = rung_results(repo.results(record.id)).get(rung)
        if result is None or not result.ok or result.score is None or result.bpb is None:
            continue
        if len(result.curve) >= 2:
            out.append(Curve(record.id, result.score, result.bpb, tuple(result.curve)))
    return out


def stop_above(repo, rung: str, fraction: float) -> list[float] | None:
    """(fraction, loss) at which a verification at ``rung`` of ``repo`` stops as a loser: the
    median loss there of the rung's finished designs; None when halving is off (``fraction``
    0) or the rung holds fewer than HALVING_MIN finished curves."""
    if not fraction:
        return None
    threshold = halving_threshold([c.curve for c in rung_curves(repo, rung)], fraction)
    return None if threshold is None else [fraction, threshold]
