"""Two designers side by side (issue 14): the grown designs of two loop runs, at equal hours.

    genesys study designers NS_A NS_B [--hours H] [--rung R] [--json] [--out FILE]

A run's best design says little about its designer (one lucky draw); its grown designs as a
population say more. For each rung both runs verified grown designs at, over the designs
whose first verification there finished within the first ``H`` hours of loop time (default:
the shorter run's), this reports each run's count started, finished, stopped early by halving
and failed; the finished designs' margins over the run's library seeds' mean score at the rung
(the loop's fitness) and the best of them; and the share of started designs that finished
above the seeds' mean and above the best seed (a stopped design was losing when it stopped, so
counts as neither). The differences B minus A of the mean margin and of the shares come with
bootstrap 95% intervals over designs.

Loop time: a run's sittings start at its ``loop_state`` "running" events and end at their last
event, so the gaps between sittings do not count. Read only; nothing is trained.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from genesys_tui.errors import ConfigError
from genesys_tui.evolve.events import Event, LoopState, RungFinished
from genesys_tui.study.fidelity import study_namespace
from genesys_tui.study.ranks import percentile

DESIGNERS_FORMAT = 1
STOPPED = "stopped early"  # how a halving stop's reason begins (evolve.halving)


@dataclass(frozen=True)
class Outcome:
    """A grown design's first verification at a rung: "finished" (with its margin over the
    seeds' mean and over the best seed), "stopped" (by halving) or "failed"."""

    design: str
    outcome: str
    hours: float  # loop hours when it ended
    margin: float | None = None
    over_best: float | None = None


@dataclass(frozen=True)
class Side:
    """One run at one rung."""

    namespace: str
    seeds_mean: float
    best_seed: float
    outcomes: tuple[Outcome, ...]

    def count(self, kind: str) -> int:
        return sum(o.outcome == kind for o in self.outcomes)

    @property
    def margins(self) -> list[float]:
        return [o.margin for o in self.outcomes if o.margin is not None]

    @property
    def best(self) -> Outcome | None:
        done = [o for o in self.outcomes if o.margin is not None]
        return max(done, key=lambda o: o.margin or 0.0) if done else None


@dataclass(frozen=True)
class Difference:
    """B minus A, with its bootstrap 95% percentile interval (None: a side has nothing)."""

    value: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class RungSideBySide:
    rung: str
    a: Side
    b: Side
    mean_margin: Difference
    above_mean: Difference  # share of started designs finished above the seeds' mean
    above_best: Difference  # share of started designs finished above the best seed


@dataclass(frozen=True)
class DesignersStudy:
    namespaces: tuple[str, str]
    hours: float
    hours_run: tuple[float, float]  # each run's loop hours in all
    rungs: tuple[RungSideBySide, ...]
    resamples: int
    seed: int
    format: int = DESIGNERS_FORMAT

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"


def loop_clock(events: Sequence[Event]) -> tuple[list[tuple[float, float]], float]:
    """The run's sittings as (start, end) timestamps, and its loop hours in all. A sitting
    starts at a ``loop_state`` "running" event and ends at the last event before the next."""
    sittings: list[tuple[float, float]] = []
    for event in events:
        if isinstance(event, LoopState) and event.state == "running":
            sittings.append((event.ts, event.ts))
        elif sittings:
            sittings[-1] = (sittings[-1][0], max(sittings[-1][1], event.ts))
    return sittings, sum(end - start for start, end in sittings) / 3600


def loop_hours(sittings: Sequence[tuple[float, float]], ts: float) -> float:
    """Loop hours spent when the event at ``ts`` happened."""
    return sum(max(0.0, min(end, ts) - start) for start, end in sittings) / 3600


def read_side(path: Path, namespace: str, rung_filter: str | None
              ) -> tuple[dict[str, Side], float]:  # fmt: skip
    """Each rung's Side of the run at ``path`` over all its hours (``within`` cuts it), and the
    run's loop hours in all."""
    from genesys_tui.evolve.events import read_events
    from genesys_tui.evolve.population import member_from_store
    from genesys_tui.store import DesignsRepo

    events = read_events(path / ".git" / "genesys" / "events.jsonl")
    sittings, total = loop_clock(events)
    if not sittings:
        raise ConfigError(f"namespace {namespace!r} has no loop events: no run to compare")
    with DesignsRepo.open(path) as repo:
        members = {r.id: member_from_store(r, repo.results(r.id)) for r in repo.records()}
    ended: dict[tuple[str, str], tuple[str, float]] = {}  # (design, rung) -> (outcome, hours)
    for event in events:
        if not isinstance(event, RungFinished) or (rung_filter and event.rung != rung_filter):
            continue
        member = members.get(event.design)
        at = loop_hours(sittings, event.ts)
        key = (event.design, event.rung)
        if member is None or member.is_seed or key in ended:
            continue
        if event.ok and event.rung in member.rung_scores:
            ended[key] = ("finished", at)
        else:
            ended[key] = ("stopped" if event.reason.startswith(STOPPED) else "failed", at)
    sides = {}
    for rung in sorted({r for _, r in ended}):
        seeds = [m.rung_scores[rung] for m in members.values()
                 if m.is_seed and rung in m.rung_scores]  # fmt: skip
        if not seeds:
            continue  # nothing to measure the grown designs against
        mean, best = sum(seeds) / len(seeds), max(seeds)
        outcomes = []
        for (design, r), (outcome, at) in sorted(ended.items(), key=lambda kv: kv[1][1]):
            if r != rung:
                continue
            score = members[design].rung_scores[rung] if outcome == "finished" else None
            outcomes.append(Outcome(design, outcome, at, None if score is None else score - mean,
                                    None if score is None else score - best))  # fmt: skip
        sides[rung] = Side(namespace, mean, best, tuple(outcomes))
    return sides, total


def within(sides: dict[str, Side], hours: float) -> dict[str, Side]:
    """The sides cut to the designs whose verification ended within ``hours`` of loop time
    (rungs left with none dropped)."""
    cut = {rung: Side(side.namespace, side.seeds_mean, side.best_seed,
                      tuple(o for o in side.outcomes if o.hours <= hours))
           for rung, side in sides.items()}  # fmt: skip
    return {rung: side for rung, side in cut.items() if side.outcomes}


def _shares(side: Side, over: str) -> list[float]:
    """1 for each started design that finished above the bar, 0 for the others."""
    return [1.0 if getattr(o, over) is not None and getattr(o, over) > 0 else 0.0
            for o in side.outcomes]  # fmt: skip


def difference(a: Sequence[float], b: Sequence[float], resamples: int, rng: random.Random
               ) -> Difference:  # fmt: skip
    """mean(b) - mean(a), with a bootstrap 95% percentile interval (each side resampled with
    replacement on its own)."""
    if not a or not b:
        return Difference(None, None, None)
    value = sum(b) / len(b) - sum(a) / len(a)
    draws = sorted(
        sum(rng.choices(b, k=len(b))) / len(b) - sum(rng.choices(a, k=len(a))) / len(a)
        for _ in range(resamples)
    )
    return Difference(value, percentile(draws, 0.025), percentile(draws, 0.975))


def run_designers_study(
    namespace_a: str, namespace_b: str, *, hours: float | None = None, rung: str | None = None,
    resamples: int = 4000, seed: int = 0,
) -> DesignersStudy:  # fmt: skip
    """The two runs side by side (read only). ConfigError, before anything is computed, for
    the same namespace twice, hours that are not positive, too few resamples, an unknown
    namespace, one without loop events, or no rung where both verified grown designs."""
    if namespace_a == namespace_b:
        raise ConfigError(f"compare two different runs, got {namespace_a!r} twice")
    if hours is not None and not hours > 0:
        raise ConfigError(f"--hours must be more than 0, got {hours}")
    paths = [study_namespace(ns, resamples) for ns in (namespace_a, namespace_b)]
    all_a, total_a = read_side(paths[0], namespace_a, rung)
    all_b, total_b = read_side(paths[1], namespace_b, rung)
    cut = min(total_a, total_b) if hours is None else hours
    sides_a, sides_b = within(all_a, cut), within(all_b, cut)
    shared = sorted(set(sides_a) & set(sides_b))
    if not shared:
        where = f"rung {rung!r}" if rung else "any rung"
        raise ConfigError(f"{namespace_a!r} and {namespace_b!r} have no grown designs verified "
                          f"at {where} beside its seeds within {cut:.2f} h")  # fmt: skip
    rng = random.Random(seed)
    rows = []
    for name in shared:
        a, b = sides_a[name], sides_b[name]
        rows.append(RungSideBySide(
            name, a, b, difference(a.margins, b.margins, resamples, rng),
            difference(_shares(a, "margin"), _shares(b, "margin"), resamples, rng),
            difference(_shares(a, "over_best"), _shares(b, "over_best"), resamples, rng),
        ))  # fmt: skip
    return DesignersStudy((namespace_a, namespace_b), cut, (total_a, total_b), tuple(rows),
                          resamples, seed)  # fmt: skip


def format_designers(study: DesignersStudy) -> str:
    def signed(x: float | None, fmt: str = "+.4f") -> str:
        return "-" if x is None else format(x, fmt)

    def diff(d: Difference, fmt: str = "+.4f") -> str:
        if d.value is None:
            return "-"
        return f"{signed(d.value, fmt)} [{signed(d.low, fmt)}, {signed(d.high, fmt)}]"

    a_ns, b_ns = study.namespaces
    lines = [
        f"{a_ns} (A, {study.hours_run[0]:.2f} h) and {b_ns} (B, {study.hours_run[1]:.2f} h), "
        f"the first {study.hours:.2f} h of loop time of each; margins over the run's seeds' "
        f"mean score at the rung; B - A with bootstrap 95% intervals ({study.resamples:,} "
        "resamples)",
        "",
        "| rung | run | started | finished | stopped | failed | mean margin | best grown "
        "| margin | above seeds' mean | above best seed |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |",
    ]
    for row in study.rungs:
        for label, side in (("A", row.a), ("B", row.b)):
            n, margins, best = len(side.outcomes), side.margins, side.best
            mean = sum(margins) / len(margins) if margins else None
            above = sum(_shares(side, "margin"))
            above_best = sum(_shares(side, "over_best"))
            lines.append(
                f"| {row.rung} | {label}: {side.namespace} | {n} | {side.count('finished')} | "
                f"{side.count('stopped')} | {side.count('failed')} | {signed(mean)} | "
                f"{best.design if best else '-'} | {signed(best.margin if best else None)} | "
                f"{above:.0f} of {n} | {above_best:.0f} of {n} |"
            )
        lines.append(
            f"| {row.rung} | B - A | | | | | {diff(row.mean_margin)} | | | "
            f"{diff(row.above_mean, '+.2f')} | {diff(row.above_best, '+.2f')} |"
        )
    return "\n".join(lines)
