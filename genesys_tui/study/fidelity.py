"""The fidelity of the ladder: does a cheap rung rank designs the way a dearer rung does?

Over the designs of a namespace that hold an ok result at two rungs (``genesys study climb``
attaches them), the rung scores (higher is better) and the held-out bits per byte (lower is
better) of rung A are rank-correlated with rung B's: Spearman's rho (Pearson's correlation of
the ranks, ties given their average rank) and Kendall's tau-b (which corrects for ties). Each
comes with a bootstrap 95% percentile interval over the designs, the designs whose rank moves
most, and the seconds each rung costs per design. Pure Python: no torch, no numpy.

One run per design ranks designs far apart well and close ones by luck: where the leads are
smaller than a rung's seed-to-seed noise (the contenders of one loop run), only means over
several training seeds rank them. ``run_runs_fidelity_study`` compares two rungs that way, from
stored noise studies or pooled files (the files ``genesys study compare`` reads), each design's
figures being its means over the training seeds it ran.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from genesys_tui.errors import ConfigError
from genesys_tui.results import RungResult, rung_results
from genesys_tui.study.ranks import Interval, average_ranks, bootstrap, kendall_tau_b, spearman

if TYPE_CHECKING:
    from genesys_tui.study.compare import Runs

#: Format of a stored fidelity study.
FIDELITY_FORMAT = 1
#: Below this many shared designs the correlations are printed with a warning.
ENOUGH_DESIGNS = 8
#: Fewer than this and nothing can be computed.
FEWEST_DESIGNS = 3
#: The fewest bootstrap resamples a percentile interval is drawn from.
FEWEST_RESAMPLES = 100
#: How many of the largest rank moves a study names.
MOVES_SHOWN = 3


# ---- the study -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One design's results at the two rungs."""

    design: str
    score_a: float
    bpb_a: float | None  # None: not recorded for every run it is the mean of (--runs)
    score_b: float
    bpb_b: float | None
    seconds_a: float | None  # wall seconds of its verification at rung A (None: not recorded)
    seconds_b: float | None
    n_a: int = 1  # training seeds its figures at rung A are the means of
    n_b: int = 1


@dataclass(frozen=True)
class RankMove:
    """A design's rank at each rung (1 = best; ties share their average rank)."""

    design: str
    rank_a: float
    rank_b: float

    @property
    def change(self) -> float:
        return self.rank_b - self.rank_a


@dataclass(frozen=True)
class Agreement:
    """How the two rungs agree on one figure (``score`` or ``bpb``)."""

    figure: str
    spearman: float | None  # None where a rung gives every design the same value
    kendall: float | None
    spearman_interval: Interval | None
    kendall_interval: Interval | None
    moves: tuple[RankMove, ...]  # the largest rank moves, largest first


def rank_moves(
    designs: Sequence[str],
    a: Sequence[float],
    b: Sequence[float],
    higher_is_better: bool,
    shown: int = MOVES_SHOWN,
) -> tuple[RankMove, ...]:
    """The ``shown`` designs whose rank (1 = best) changes most between ``a`` and ``b``, by
    absolute change, ties in the order given; designs that keep their rank are not named."""
    sign = -1.0 if higher_is_better else 1.0
    ra = average_ranks([sign * v for v in a])
    rb = average_ranks([sign * v for v in b])
    moves = [RankMove(d, p, q) for d, p, q in zip(designs, ra, rb, strict=True) if p != q]
    moves.sort(key=lambda m: -abs(m.change))  # stable: equal moves keep the designs' order
    return tuple(moves[:shown])


def agreement(
    figure: str,
    designs: Sequence[str],
    a: Sequence[float],
    b: Sequence[float],
    *,
    higher_is_better: bool,
    resamples: int,
    seed: int,
) -> Agreement:
    """The correlations of ``a`` and ``b`` (one value per design), their intervals and moves."""
    rho_interval, tau_interval = bootstrap(a, b, resamples, seed)
    return Agreement(
        figure=figure,
        spearman=spearman(a, b),
        kendall=kendall_tau_b(a, b),
        spearman_interval=rho_interval,
        kendall_interval=tau_interval,
        moves=rank_moves(designs, a, b, higher_is_better),
    )


@dataclass(frozen=True)
class FidelityStudy:
    namespace: str
    rung_a: str
    rung_b: str
    rows: tuple[Row, ...]
    score: Agreement
    bpb: Agreement | None  # None where some design has no bits per byte at a rung
    seconds_a: float | None  # mean wall seconds per design at rung A (None: not recorded)
    seconds_b: float | None
    seed: int
    warning: str  # "" with enough shared designs; else what the figures are worth
    format: int = FIDELITY_FORMAT
    measured_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M UTC"))

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"


def compare(
    namespace: str, rung_a: str, rung_b: str, rows: Sequence[Row], resamples: int, seed: int
) -> FidelityStudy:
    """The study of ``rows`` (three or more designs with results at both rungs)."""
    if len(rows) < FEWEST_DESIGNS:
        raise ConfigError(
            f"only {len(rows)} designs hold results at both rungs {rung_a} and {rung_b}; "
            f"fidelity needs at least {FEWEST_DESIGNS} to compute anything"
        )
    ids = [r.design for r in rows]
    common = {"resamples": resamples, "seed": seed}
    score = agreement(
        "score", ids, [r.score_a for r in rows], [r.score_b for r in rows],
        higher_is_better=True, **common,
    )  # fmt: skip
    bpb = None
    if all(r.bpb_a is not None and r.bpb_b is not None for r in rows):
        bpb = agreement(
            "bpb", ids, [r.bpb_a for r in rows], [r.bpb_b for r in rows],
            higher_is_better=False, **common,
        )  # fmt: skip
    warning = ""
    if len(rows) < ENOUGH_DESIGNS:
        warning = (
            f"only {len(rows)} designs hold results at both rungs; fidelity needs at least "
            f"{ENOUGH_DESIGNS} to mean much"
        )
    return FidelityStudy(
        namespace=namespace,
        rung_a=rung_a,
        rung_b=rung_b,
        rows=tuple(rows),
        score=score,
        bpb=bpb,
        seconds_a=_mean([r.seconds_a for r in rows]),
        seconds_b=_mean([r.seconds_b for r in rows]),
        seed=seed,
        warning=warning,
    )


def _mean(values: Sequence[float | None], every: bool = True) -> float | None:
    """The mean of the values that are there; None where none is, or with ``every``, where
    one is missing."""
    known = [v for v in values if v is not None]
    if not known or (every and len(known) < len(values)):
        return None
    return statistics.fmean(known)


def _figures(result: RungResult | None) -> tuple[float, float] | None:
    """(score, bpb) of an ok result that holds both, else None."""
    if result is None or result.score is None or result.bpb is None:
        return None
    return result.score, result.bpb


def shared_rows(repo, rung_a: str, rung_b: str) -> list[Row]:
    """One row per design of ``repo`` holding an ok result (with a score and bits per byte)
    at both rungs, in the order the designs were made. ConfigError for a rung no design
    holds."""
    held: set[str] = set()
    rows = []
    for record in sorted(repo.records(), key=lambda r: r.seq):
        results = rung_results(repo.results(record.id))
        held.update(name for name, result in results.items() if _figures(result))
        a, b = _figures(results.get(rung_a)), _figures(results.get(rung_b))
        if a and b:
            seconds = results[rung_a].seconds, results[rung_b].seconds
            rows.append(Row(record.id, *a, *b, *seconds))
    for rung in (rung_a, rung_b):
        if rung not in held:
            raise ConfigError(
                f"no design of namespace {repo.namespace!r} holds a result at rung {rung!r}; "
                f"rungs held: {', '.join(sorted(held)) or 'none'} (`genesys study climb` adds them)"
            )
    return rows


def study_namespace(namespace: str, resamples: int) -> Path:
    """The designs repository a study of ``namespace`` reads, after the checks every study of
    results makes first: ConfigError for fewer than FEWEST_RESAMPLES bootstrap resamples or
    an unknown namespace."""
    from genesys_tui.errors import StoreError
    from genesys_tui.store import namespace_path

    if resamples < FEWEST_RESAMPLES:
        raise ConfigError(f"--bootstrap must be at least {FEWEST_RESAMPLES}, got {resamples}")
    try:
        path = namespace_path(namespace)
    except StoreError as exc:
        raise ConfigError(str(exc)) from exc
    if not (path / ".git").is_dir():
        raise ConfigError(f"unknown namespace {namespace!r}: no designs repository at {path}")
    return path


def run_fidelity_study(
    namespace: str, rung_a: str, rung_b: str, *, resamples: int = 2000, seed: int = 0
) -> FidelityStudy:
    """Compare ``rung_a`` with ``rung_b`` over the designs of ``namespace`` (read only).

    Raises ConfigError, before anything is computed, for the same rung twice, fewer than
    FEWEST_RESAMPLES resamples, an unknown namespace, a rung no design holds or fewer than
    FEWEST_DESIGNS designs holding results at both rungs.
    """
    from genesys_tui.store import DesignsRepo

    if rung_a == rung_b:
        raise ConfigError(f"--rungs names {rung_a!r} twice; compare two different rungs")
    path = study_namespace(namespace, resamples)
    with DesignsRepo.open(path) as repo:
        rows = shared_rows(repo, rung_a, rung_b)
    return compare(namespace, rung_a, rung_b, rows, resamples, seed)


def runs_rows(runs_a: Sequence[Runs], runs_b: Sequence[Runs]) -> list[Row]:
    """One row per design with runs in both, in ``runs_b``'s order: its mean score over its
    training seeds at each rung, its mean bits per byte where every one of its runs there
    recorded it (a figure it is ranked on), and its mean wall seconds over the runs that
    recorded them (a cost); None where there are none."""
    by_a = {r.design: r for r in runs_a}
    rows = []
    for b in runs_b:
        a = by_a.get(b.design)
        if a is None or not a.scores or not b.scores:
            continue
        rows.append(Row(b.design, a.mean, _mean_of(a, a.bpb), b.mean, _mean_of(b, b.bpb),
                        _mean_of(a, a.seconds, every=False), _mean_of(b, b.seconds, every=False),
                        len(a.scores), len(b.scores)))  # fmt: skip
    return rows


def _mean_of(runs: Runs, figure: dict[int, float], every: bool = True) -> float | None:
    """``figure``'s mean over the runs' training seeds (``_mean``'s rule for missing ones)."""
    return _mean([figure.get(seed) for seed in runs.scores], every)


def run_runs_fidelity_study(
    path_a: str | Path, path_b: str | Path, *, resamples: int = 2000, seed: int = 0
) -> FidelityStudy:
    """Compare the rung of the runs stored in ``path_a`` with that of ``path_b`` (noise studies
    or pooled files, one rung each) over the designs both hold, each by its means over its
    training seeds. ConfigError for an unreadable file, both at one rung, fewer than
    FEWEST_RESAMPLES resamples or fewer than FEWEST_DESIGNS shared designs."""
    from genesys_tui.study.compare import merge_runs, read_runs

    if resamples < FEWEST_RESAMPLES:
        raise ConfigError(f"--bootstrap must be at least {FEWEST_RESAMPLES}, got {resamples}")
    sides = [list(merge_runs(read_runs(p)).values()) for p in (path_a, path_b)]
    rung_a, rung_b = (side[0].rung if side else "" for side in sides)
    for path, side in zip((path_a, path_b), sides, strict=True):
        if not side:
            raise ConfigError(f"{path}: holds no runs")
    if rung_a == rung_b:
        raise ConfigError(f"{path_a} and {path_b} are both at {rung_a}; compare two rungs")
    rows = runs_rows(*sides)
    return compare(f"{path_a} and {path_b}", rung_a, rung_b, rows, resamples, seed)


# ---- the table -------------------------------------------------------------------------------


def _f(value: float | None, digits: int = 3) -> str:
    return "undefined" if value is None else f"{value:+.{digits}f}"


def _interval(i: Interval | None) -> str:
    return "none" if i is None else f"[{i.low:+.3f}, {i.high:+.3f}]"


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(head, widths, strict=True))]
    return lines + ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]


def format_fidelity(study: FidelityStudy) -> str:
    """The study as text: correlations with intervals, the largest moves, each design, cost."""
    a, b = study.rung_a, study.rung_b
    lines = [f"{a} against {b} in {study.namespace}: {len(study.rows)} designs at both rungs"]
    if study.warning:
        lines.append(f"warning: {study.warning}")
    agreements = [ag for ag in (study.score, study.bpb) if ag is not None]
    head = ["figure", "spearman", "95% interval", "kendall tau-b", "95% interval", "resamples"]
    rows = []
    for ag in agreements:
        rho, tau = ag.spearman_interval, ag.kendall_interval
        used = f"{rho.used}/{rho.drawn}" if rho else "0"  # rho and tau skip the same resamples
        rows.append(
            [ag.figure, _f(ag.spearman), _interval(rho), _f(ag.kendall), _interval(tau), used]
        )
    lines += ["", *_table(head, rows)]
    if study.bpb is None:
        lines.append("bpb: not compared (a design has no bits per byte at a rung)")
    lines += ["", "largest rank moves (rank 1 = best):"]
    for ag in agreements:
        moved = ", ".join(f"{m.design} {m.rank_a:g} -> {m.rank_b:g}" for m in ag.moves)
        lines.append(f"  {ag.figure}: {moved or 'no design changes rank'}")
    lines += ["", *_table(*_design_table(study)), ""]
    if study.seconds_a is not None and study.seconds_b is not None:
        cost = f"cost: {study.seconds_a:.1f} s per design at {a}, {study.seconds_b:.1f} s at {b}"
        if study.seconds_a > 0:
            cost += f" ({study.seconds_b / study.seconds_a:.1f} times {a}'s)"
        lines.append(cost)
    else:
        lines.append("cost: not recorded")
    return "\n".join(lines)


def _design_table(study: FidelityStudy) -> tuple[list[str], list[list[str]]]:
    """Each design's figures at both rungs; with runs over several training seeds, the means
    and how many seeds each is over."""
    a, b = study.rung_a, study.rung_b
    seeds = any(r.n_a > 1 or r.n_b > 1 for r in study.rows)
    head = ["design", f"score {a}", f"bpb {a}", f"score {b}", f"bpb {b}"]
    head += [f"seeds {a}", f"seeds {b}"] if seeds else []
    rows = []
    for r in study.rows:
        row = [r.design, f"{r.score_a:.4f}", _bpb(r.bpb_a), f"{r.score_b:.4f}", _bpb(r.bpb_b)]
        rows.append(row + ([str(r.n_a), str(r.n_b)] if seeds else []))
    return head, rows


def _bpb(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
