"""The terms a design's fitness is made of, so a user can see what the ranking rewards.

A rung's score (``verify.fitness.rung_score``) is a weighted mean of terms: bits per byte as
``1 - bpb / 8`` and each task's or probe's skill (0 at chance, 1 perfect). The loop's fitness is
the mean over the rungs a design passed of its score's margin over the library seeds' mean score
there (``Population.fitness``). With the seeds scored on the same terms, that margin splits
exactly into one contribution per term: ``share x (value - seeds' mean value) / rungs``. A design
with worse bits per byte can rank above a seed because a task term gives it more than bits per
byte takes away; ``why`` says so in a few words.

Plain data in, plain data out: the leaderboard of ``genesys evolve`` and the dashboard (from the
store's records) call the same functions. No torch.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from genesys_tui.verify.evals.tasks import CHANCE, PROBE_CHANCE
from genesys_tui.verify.fitness import FitnessSettings, skill

BPB = "bpb"
EVAL = "eval/"
#: Group means that repeat their tasks: the verifier scores the tasks, not these.
GROUPS = ("genblimp", "blimp_local")

Metrics = Mapping[str, float]  # one rung's recorded scores: bpb, eval/<task>, score, ...


@dataclass(frozen=True)
class Term:
    """One term of one rung's score, and what it adds to the design's fitness."""

    rung: str
    name: str  # "bpb", or a task or probe name
    raw: float  # bits per byte, or the accuracy
    share: float  # its weight over the rung's total weight
    value: float  # the term: 1 - bpb/8, or the skill (0 at chance, 1 perfect)
    baseline: float | None  # the library seeds' mean value of this term at this rung
    contribution: float  # share x (value - baseline) / rungs passed; 0 without a baseline


def _settings(settings: FitnessSettings | None) -> FitnessSettings:
    # the verifier adds the chance levels of our own tasks and probes to the settings' own
    s = settings or FitnessSettings()
    return dataclasses.replace(s, chance={**CHANCE, **PROBE_CHANCE, **s.chance})


def rung_terms(metrics: Metrics, settings: FitnessSettings | None = None) -> dict[str, tuple]:
    """``{name: (raw, share, value)}`` of one rung's recorded metrics, as the verifier scored
    them (the same weights, chance levels and reference)."""
    s = _settings(settings)
    raw: dict[str, tuple[float, float, float]] = {}  # name -> (raw, weight, value)
    bpb = metrics.get(BPB)
    if bpb is not None and s.bpb_weight > 0:
        value = 1.0 - bpb / s.bpb_reference if math.isfinite(bpb) else 0.0
        raw[BPB] = (float(bpb), s.bpb_weight, value)
    for key, acc in sorted(metrics.items()):
        task = key[len(EVAL) :]
        if not key.startswith(EVAL) or task in GROUPS or s.weight(task) <= 0:
            continue
        raw[task] = (float(acc), s.weight(task), skill(float(acc), s.chance_of(task)))
    total = sum(w for _, w, _ in raw.values())
    return {n: (r, w / total, v) for n, (r, w, v) in raw.items()} if total > 0 else {}


def fitness_terms(
    rungs: Mapping[str, Metrics],
    seeds: Iterable[Mapping[str, Metrics]],
    settings: FitnessSettings | None = None,
) -> list[Term]:
    """Every term of every rung in ``rungs`` (rung -> the design's metrics there) against
    ``seeds`` (each seed's rung -> metrics), largest contribution to the fitness first."""
    seed_rungs = list(seeds)
    out: list[Term] = []
    for rung, metrics in rungs.items():
        seed_terms = [rung_terms(s[rung], settings) for s in seed_rungs if rung in s]
        for name, (raw, share, value) in rung_terms(metrics, settings).items():
            seen = [t[name][2] for t in seed_terms if name in t]
            base = sum(seen) / len(seen) if seen else None
            gain = share * (value - base) / len(rungs) if base is not None else 0.0
            out.append(Term(rung, name, raw, share, value, base, gain))
    return sorted(out, key=lambda t: (-abs(t.contribution), t.rung, t.name))


def _scored(rungs: Mapping[str, Metrics]) -> dict[str, Metrics]:
    # a failed verification attaches no score: it is no passed rung
    return {rung: m for rung, m in rungs.items() if "score" in m}


def record_terms(record: Any, records: Iterable[Any]) -> list[Term]:
    """The terms of a store ``DesignRecord``'s fitness against the library seeds among
    ``records`` (the dashboard's inspector and ``genesys show`` read records, not members)."""
    seeds = [_scored(r.rungs) for r in records if r.origin == "seed"]
    return fitness_terms(_scored(record.rungs), seeds)


def why(terms: Iterable[Term], most: int = 2) -> str:
    """A few words on what makes the fitness: the ``most`` terms that add or take the most,
    summed over rungs, e.g. ``"bpb -0.012, genblimp_sva_local +0.041"``."""
    by_name: dict[str, float] = {}
    for t in terms:
        by_name[t.name] = by_name.get(t.name, 0.0) + t.contribution
    top = sorted(by_name.items(), key=lambda kv: (-abs(kv[1]), kv[0]))[:most]
    return ", ".join(f"{name} {gain:+.4f}" for name, gain in top if abs(gain) >= 5e-5)


def format_terms(terms: Iterable[Term]) -> str:
    """The terms as a small table (the inspector and ``genesys show`` can print it)."""
    lines = [f"{'rung':<8} {'term':<28} {'raw':>8} {'share':>6} {'value':>8} {'seeds':>8} "
             f"{'adds':>8}"]  # fmt: skip
    for t in sorted(terms, key=lambda t: (t.rung, t.name != BPB, t.name)):
        base = f"{t.baseline:8.4f}" if t.baseline is not None else f"{'-':>8}"
        lines.append(
            f"{t.rung:<8} {t.name:<28} {t.raw:8.4f} {t.share:6.2f} {t.value:8.4f} {base} "
            f"{t.contribution:+8.4f}"
        )
    return "\n".join(lines)
