"""What stopping losers early inside a rung would cost in fidelity, read from recorded curves.

Successive halving trains every design of a rung for a fraction f of its steps, keeps the half
with the lowest training loss and finishes only those: it saves (1 - f) / 2 of the rung's
training. It is only worth that if the loss at f ranks designs as their finished results do.
Every rung result keeps its training-loss curve (``RungResult.curve``), so this is measured
without training anything: for each fraction, over the designs verified at the rung, Spearman
and Kendall rank correlation (with bootstrap 95% intervals) of the loss at f (the mean of the
curve's points over the last ``WINDOW`` of the run before f: a step's loss is one noisy batch)
against the final rung score and against the final bits per byte, and whether the finished best
design, and how many of the finished top quarter, would have been kept.

    genesys study halving --namespace NS --rung R [--fractions 0.125 0.25 0.5] [--json]

The designs of a rung share its tokenizer and its data order (seeded), so their training
losses are comparable step for step.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from genesys_tui.errors import ConfigError
from genesys_tui.evolve.halving import Curve, early_loss, rung_curves
from genesys_tui.study.fidelity import ENOUGH_DESIGNS, FEWEST_DESIGNS, study_namespace
from genesys_tui.study.ranks import Interval, bootstrap, kendall_tau_b, spearman

HALVING_FORMAT = 1
DEFAULT_FRACTIONS = (0.125, 0.25, 0.5, 0.75)


@dataclass(frozen=True)
class Cut:
    """Stopping at ``fraction`` of the steps: how the loss there ranks the designs."""

    fraction: float
    saved: float  # share of the rung's training a halving here saves, (1 - f) / 2
    score_spearman: float | None  # early loss (lower first) against the final score
    score_kendall: float | None
    score_interval: Interval | None  # Spearman's
    bpb_spearman: float | None  # early loss against the final bits per byte
    bpb_kendall: float | None
    bpb_interval: Interval | None
    best_kept: bool  # the design with the best final score is in the kept half
    top_kept: int  # of the final top quarter (at least one design), how many are kept
    top: int


@dataclass(frozen=True)
class HalvingStudy:
    namespace: str
    rung: str
    designs: tuple[str, ...]
    cuts: tuple[Cut, ...]
    resamples: int
    seed: int
    warning: str = ""
    format: int = field(default=HALVING_FORMAT)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"


def cut(curves: Sequence[Curve], fraction: float, resamples: int, seed: int) -> Cut:
    early = [early_loss(c.curve, fraction) for c in curves]
    kept_curves = [(c, e) for c, e in zip(curves, early, strict=True) if e is not None]
    neg = [-e for _, e in kept_curves]
    scores = [c.score for c, _ in kept_curves]
    early_vals = [e for _, e in kept_curves]
    bpbs = [c.bpb for c, _ in kept_curves]
    score_ci, _ = bootstrap(neg, scores, resamples, seed)
    bpb_ci, _ = bootstrap(early_vals, bpbs, resamples, seed)
    by_early = sorted(range(len(kept_curves)), key=lambda i: early_vals[i])
    kept = set(by_early[: math.ceil(len(by_early) / 2)])
    by_final = sorted(range(len(kept_curves)), key=lambda i: -scores[i])
    top = by_final[: max(1, len(by_final) // 4)]
    return Cut(
        fraction=fraction, saved=(1 - fraction) / 2,
        score_spearman=spearman(neg, scores), score_kendall=kendall_tau_b(neg, scores),
        score_interval=score_ci,
        bpb_spearman=spearman(early_vals, bpbs), bpb_kendall=kendall_tau_b(early_vals, bpbs),
        bpb_interval=bpb_ci,
        best_kept=bool(by_final) and by_final[0] in kept,
        top_kept=sum(i in kept for i in top), top=len(top),
    )  # fmt: skip


def run_halving_study(
    namespace: str, rung: str, fractions: Sequence[float] = DEFAULT_FRACTIONS, *,
    resamples: int = 2000, seed: int = 0,
) -> HalvingStudy:  # fmt: skip
    """The study over the designs of ``namespace`` verified at ``rung`` (read only).

    ConfigError, before anything is computed, for a fraction outside (0, 1), fewer than
    FEWEST_RESAMPLES resamples, an unknown namespace or fewer than FEWEST_DESIGNS designs
    with a curve at the rung."""
    from genesys_tui.store import DesignsRepo

    bad = [f for f in fractions if not 0 < f < 1]
    if bad or not fractions:
        raise ConfigError(f"--fractions must lie strictly between 0 and 1, got {bad or 'none'}")
    path = study_namespace(namespace, resamples)
    with DesignsRepo.open(path) as repo:
        curves = rung_curves(repo, rung)
    if len(curves) < FEWEST_DESIGNS:
        raise ConfigError(
            f"namespace {namespace!r} has {len(curves)} designs with a loss curve at rung "
            f"{rung!r}; the study needs at least {FEWEST_DESIGNS}"
        )
    warning = ""
    if len(curves) < ENOUGH_DESIGNS:
        warning = (
            f"only {len(curves)} designs (fewer than {ENOUGH_DESIGNS}): the correlations "
            "and their intervals say little"
        )
    cuts = tuple(cut(curves, f, resamples, seed) for f in sorted(fractions))
    return HalvingStudy(
        namespace, rung, tuple(c.design for c in curves), cuts, resamples, seed, warning
    )


def format_halving(study: HalvingStudy) -> str:
    def f(x: float | None) -> str:
        return "-" if x is None else f"{x:+.2f}"

    def ci(i: Interval | None) -> str:
        return "-" if i is None else f"[{i.low:+.2f}, {i.high:+.2f}]"

    lines = [
        f"halving at rung {study.rung} of namespace {study.namespace}: "
        f"{len(study.designs)} designs with a loss curve",
        f"{'stop at':>7} {'saves':>6} {'rho score':>9} {'95% interval':>16} {'rho bpb':>8} "
        f"{'95% interval':>16} {'best kept':>9} {'top kept':>8}",
    ]
    for c in study.cuts:
        lines.append(
            f"{c.fraction:>7.3f} {c.saved:>6.0%} {f(c.score_spearman):>9} "
            f"{ci(c.score_interval):>16} {f(c.bpb_spearman):>8} {ci(c.bpb_interval):>16} "
            f"{'yes' if c.best_kept else 'no':>9} {f'{c.top_kept}/{c.top}':>8}"
        )
    lines.append(
        "rho: Spearman of the training loss at the stop (lower first) with the finished rung "
        "score and bits per byte; kept: the half with the lowest loss at the stop"
    )
    if study.warning:
        lines.append(f"warning: {study.warning}")
    return "\n".join(lines)
