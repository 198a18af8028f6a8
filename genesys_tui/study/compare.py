"""Is one design better than others at a rung, once each is trained with several seeds?

The loop compares single runs: a design's score minus a seed's, over the rung's sigma. At cpu-s
one design's score moves by more between two training seeds than the leads the loop finds, so
a claim there needs K runs a side. This compares the mean score of a candidate's runs with the
mean of each baseline's: the difference over its standard error under the rung's noise,
``z = (mean_a - mean_b) / (sigma * sqrt(1/n_a + 1/n_b))``, which beats the baseline above
``ABOVE_NOISE`` (2) and ties inside it. With one run a side this is the single-run margin over
``sigma * sqrt(2)``, stricter than the loop's margin over ``sigma``: both runs carry noise.

Where both sides ran the same training seeds the paired differences are reported as well (the
same seed gives the same data order to both), with how many of those seeds the candidate won and
Student's t of their mean (n - 1 degrees of freedom). Related designs share much of a seed's
luck, so the paired test can see a lead the unpaired one cannot; the verdict stays the
unpaired one, which needs no estimate of the pairs' own spread.

Inputs are stored studies: a noise study (``genesys study noise --out``; one design, its runs)
or a pooled noise file (``docs/studies/noise-cpu-s-pooled.json``: several designs' scores by
training seed). The bookkeeping of a confirmation's runs lives here too: which stored runs
count, which seeds still to train, and the leader's run its selection biased. Pure numbers;
nothing is trained here.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from genesys_tui.errors import ConfigError
from genesys_tui.evolve.population import ABOVE_NOISE

#: Format of a stored comparison.
COMPARE_FORMAT = 1


@dataclass(frozen=True)
class Runs:
    """One design's rung scores at one rung, by training seed."""

    design: str
    rung: str
    scores: dict[int, float]  # training seed -> rung score
    source: str = ""  # the file they were read from
    numerics: dict[int, str] = field(default_factory=dict)  # training seed -> where, if recorded
    bpb: dict[int, float] = field(default_factory=dict)  # training seed -> bits per byte
    seconds: dict[int, float] = field(default_factory=dict)  # training seed -> wall seconds

    @property
    def mean(self) -> float:
        return statistics.fmean(self.scores.values())


@dataclass(frozen=True)
class Comparison:
    """The candidate against one baseline."""

    baseline: str
    n_candidate: int
    n_baseline: int
    mean_candidate: float
    mean_baseline: float
    difference: float  # candidate mean minus baseline mean
    standard_error: float  # sigma * sqrt(1/n_a + 1/n_b)
    z: float  # difference / standard_error
    verdict: str  # "beats", "tie" or "loses" (|z| <= ABOVE_NOISE is a tie)
    paired_seeds: tuple[int, ...]  # training seeds both sides ran
    paired_mean: float | None  # mean of the candidate-minus-baseline differences on those seeds
    paired_std: float | None  # their sample std (two or more paired seeds)
    paired_t: float | None  # paired_mean / (paired_std / sqrt(n)): Student's t, n - 1 dof
    paired_wins: int  # paired seeds on which the candidate scored higher


@dataclass(frozen=True)
class CompareStudy:
    candidate: str
    rung: str
    sigma: float  # the rung score's seed-to-seed standard deviation used for the errors
    candidate_scores: dict[int, float]
    comparisons: tuple[Comparison, ...]  # best baseline (smallest z) first
    sigma_from: str = ""  # where sigma came from
    note: str = ""  # how the candidate's runs were chosen, where that needs saying
    format: int = COMPARE_FORMAT
    measured_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M UTC"))

    @property
    def beats_all(self) -> bool:
        return bool(self.comparisons) and all(c.verdict == "beats" for c in self.comparisons)

    def summary(self) -> str:
        if not self.comparisons:
            return f"{self.candidate}: no baseline to compare with"
        worst = self.comparisons[0]
        beaten = sum(c.verdict == "beats" for c in self.comparisons)
        n = len(self.comparisons)
        if self.beats_all:
            return f"{self.candidate} beats all {n} baseline{_s(n)} at {self.rung}, " \
                   f"z {worst.z:+.2f} against the closest ({worst.baseline})"  # fmt: skip
        word = "ties with" if worst.verdict == "tie" else "loses to"
        return f"{self.candidate} {word} {worst.baseline} at {self.rung} (z {worst.z:+.2f}); " \
               f"beats {beaten} of {n} baselines above {ABOVE_NOISE:g} standard errors"  # fmt: skip

    def to_json(self) -> str:
        data = asdict(self)
        data["beats_all"], data["summary"] = self.beats_all, self.summary()
        return json.dumps(data, indent=2) + "\n"


def compare_runs(candidate: Runs, baseline: Runs, sigma: float) -> Comparison:
    """``candidate`` against ``baseline`` under the rung noise ``sigma`` (> 0)."""
    if not sigma > 0 or not math.isfinite(sigma):
        raise ConfigError(f"sigma must be a positive number, got {sigma!r}")
    if not candidate.scores or not baseline.scores:
        empty = candidate if not candidate.scores else baseline
        raise ConfigError(f"{empty.design}: no runs to compare")
    na, nb = len(candidate.scores), len(baseline.scores)
    difference = candidate.mean - baseline.mean
    se = sigma * math.sqrt(1.0 / na + 1.0 / nb)
    z = difference / se
    verdict = "beats" if z > ABOVE_NOISE else "loses" if z < -ABOVE_NOISE else "tie"
    shared = tuple(sorted(set(candidate.scores) & set(baseline.scores)))
    diffs = [candidate.scores[s] - baseline.scores[s] for s in shared]
    sd = statistics.stdev(diffs) if len(diffs) >= 2 else None
    return Comparison(
        baseline=baseline.design,
        n_candidate=na,
        n_baseline=nb,
        mean_candidate=candidate.mean,
        mean_baseline=baseline.mean,
        difference=difference,
        standard_error=se,
        z=z,
        verdict=verdict,
        paired_seeds=shared,
        paired_mean=statistics.fmean(diffs) if diffs else None,
        paired_std=sd,
        paired_t=statistics.fmean(diffs) / (sd / math.sqrt(len(diffs))) if sd else None,
        paired_wins=sum(d > 0 for d in diffs),
    )


def compare(candidate: Runs, baselines: Sequence[Runs], sigma: float, sigma_from: str = "",
            note: str = "") -> CompareStudy:
    """The candidate against every baseline (itself excluded), closest baseline first."""
    others = [b for b in baselines if b.design != candidate.design]
    for b in others:
        if b.rung != candidate.rung:
            raise ConfigError(f"{b.design} was measured at {b.rung} ({b.source}), the candidate "
                              f"{candidate.design} at {candidate.rung}")  # fmt: skip
    rows = sorted((compare_runs(candidate, b, sigma) for b in others), key=lambda c: c.z)
    runs = [candidate, *others]
    mixed = numerics_note({r.design: r.scores for r in runs}, {r.design: r.numerics for r in runs})
    note = "; ".join(n for n in (note, mixed) if n)
    return CompareStudy(candidate.design, candidate.rung, sigma, dict(candidate.scores),
                        tuple(rows), sigma_from, note)  # fmt: skip


def read_runs(path: str | Path) -> list[Runs]:
    """Every design's runs in a stored noise study or pooled noise file; ConfigError for a
    missing or unreadable file, or one of neither kind."""
    p = Path(path)
    try:
        data: Any = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{p}: not readable as JSON ({exc})") from None
    try:
        if isinstance(data, dict) and "runs" in data and "design" in data:  # one noise study
            scores = {int(r["seed"]): float(r["score"]) for r in data["runs"]}
            numerics = {int(r["seed"]): str(r["numerics"]) for r in data["runs"]
                        if r.get("numerics")}  # fmt: skip
            bpb, seconds = ({int(r["seed"]): float(r[key]) for r in data["runs"]
                             if r.get(key) is not None} for key in ("bpb", "seconds"))  # fmt: skip
            return [Runs(str(data["design"]), str(data["rung"]), scores, str(p), numerics, bpb,
                         seconds)]  # fmt: skip
        if isinstance(data, dict) and isinstance(data.get("designs"), dict):  # a pooled file
            return [
                Runs(str(name), str(data["rung"]),
                     {int(s): float(v) for s, v in d["scores_by_training_seed"].items()}, str(p),
                     {int(s): str(v) for s, v in (d.get("numerics_by_training_seed") or {}).items()
                      if v},
                     {int(s): float(v) for s, v in (d.get("bpb_by_training_seed") or {}).items()},
                     {int(s): float(v)
                      for s, v in (d.get("seconds_by_training_seed") or {}).items()})
                for name, d in data["designs"].items()
            ]  # fmt: skip
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{p}: a malformed noise study ({type(exc).__name__}: {exc})") from None
    raise ConfigError(f"{p}: neither a noise study nor a pooled noise file")


#: A run's figures by training seed, in Runs' order: merged together, a seed's run as one.
_PER_SEED = ("scores", "numerics", "bpb", "seconds")


def merge_runs(runs: Sequence[Runs]) -> dict[str, Runs]:
    """Runs by design, merged over training seeds: where two hold the same design and seed, the
    later one's run wins whole (its score with its numerics, bits per byte and seconds, each
    only if that run recorded it). The one rule for every place runs from several sources meet
    (``study compare``'s files, ``--confirm``'s namespace and files). ConfigError for one
    design at two rungs: their runs do not merge."""
    by_seed: dict[str, dict[int, dict[str, Any]]] = {}  # design -> seed -> that seed's run
    sources: dict[str, list[str]] = {}
    last: dict[str, Runs] = {}
    for r in runs:
        if r.design in last and last[r.design].rung != r.rung:
            raise ConfigError(f"{r.design} is at {last[r.design].rung} ({last[r.design].source}) "
                              f"and at {r.rung} ({r.source}): runs of two rungs do not merge")
        last[r.design] = r
        if r.source and r.source not in sources.setdefault(r.design, []):
            sources[r.design].append(r.source)
        for seed in r.scores:
            figures = {name: getattr(r, name).get(seed) for name in _PER_SEED}
            by_seed.setdefault(r.design, {})[seed] = {
                k: v for k, v in figures.items() if v is not None and v != ""
            }

    def field_of(design: str, name: str) -> dict[int, Any]:
        return {s: run[name] for s, run in by_seed.get(design, {}).items() if name in run}

    return {design: Runs(design, r.rung, field_of(design, "scores"),
                         ", ".join(sources.get(design, [])),
                         *(field_of(design, name) for name in _PER_SEED[1:]))
            for design, r in last.items()}  # fmt: skip


def gather_runs(own: Mapping[str, Runs], seeds: set[str], stored: Sequence[Runs], rung: str
                ) -> dict[str, Runs]:  # fmt: skip
    """Runs by design at ``rung``: ``own`` (the namespace's, by design) with the ``stored`` runs
    at that rung of its designs and of the library ``seeds``, verified in the namespace or not,
    merged by ``merge_runs``: a later file's run of a seed wins, and the namespace's own over
    every file."""
    picked = [r for r in stored if r.rung == rung and (r.design in own or r.design in seeds)]
    return merge_runs([*picked, *own.values()])


def numerics_note(scores: Mapping[str, Mapping[int, float]],
                  numerics: Mapping[str, Mapping[int, str]]) -> str:  # fmt: skip
    """A warning where the runs compared (``scores``: design -> training seed -> score) were
    computed on different numerics (``numerics``: the same keys -> ``verify.numerics``, where
    recorded), or where some have none on record; "" otherwise. The same run on other numerics
    (another CPU's vector kernels, another GPU) differs as another training seed does."""
    recorded: Counter[str] = Counter()
    unrecorded = 0
    for design, runs in scores.items():
        for seed in runs:
            where = numerics.get(design, {}).get(seed, "")
            if where:
                recorded[where] += 1
            else:
                unrecorded += 1
    total = sum(recorded.values()) + unrecorded
    if len(recorded) > 1:
        kinds = ", ".join(f"{n} run(s) on {where}" for where, n in recorded.most_common())
        return (f"the runs compared were computed on different numerics ({kinds}): a run "
                "differs between them as between training seeds")  # fmt: skip
    if recorded and unrecorded:
        return (f"{unrecorded} of {total} runs compared have no numerics on record (older runs "
                f"or stored files); the others ran on {next(iter(recorded))}")  # fmt: skip
    return ""


def seeds_to_train(have: set[int], total: int) -> list[int]:
    """The lowest training seeds not in ``have`` that bring it to ``total`` runs (the lowest, so
    that designs confirmed apart share seeds, and so data orders, with the stored studies)."""
    out: list[int] = []
    seed = 0
    while len(have) + len(out) < total:
        if seed not in have:
            out.append(seed)
        seed += 1
    return out


T = TypeVar("T")


def run_all(jobs: list[tuple[str, int]], train: Callable[[str, int], T], workers: int
            ) -> dict[tuple[str, int], T]:  # fmt: skip
    """``train(design, seed)`` for each job, ``workers`` at a time (each a walled cell of one
    thread); what each returned, by job. Every job runs to its end even when one fails, so each
    run that finishes is kept, then the first failure is raised."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {job: pool.submit(train, *job) for job in jobs}
    failed = [f.exception() for f in futures.values() if f.exception() is not None]
    if failed:
        raise failed[0]  # type: ignore[misc]
    return {job: f.result() for job, f in futures.items()}


def unbiased_runs(scores: dict[int, float], selection_seed: int, rivals: int
                  ) -> tuple[dict[int, float], str]:  # fmt: skip
    """The leader's runs fit to measure it: picked as the best of ``rivals`` grown designs on
    its ``selection_seed`` run, that run is biased up (the winner's curse) and is left out when
    there was more than one to pick from and other runs remain; (runs, a note saying so)."""
    if rivals > 1 and selection_seed in scores and len(scores) > 1:
        kept = {s: v for s, v in scores.items() if s != selection_seed}
        return kept, (f"its training seed {selection_seed} run ({scores[selection_seed]:.4f}) "
                      f"is left out: it was picked as the best of {rivals} there")  # fmt: skip
    return dict(scores), ""


def select(runs: Sequence[Runs], names: Sequence[str]) -> list[Runs]:
    """The runs of ``names`` (all when empty), in that order; ConfigError naming any missing. A
    design found more than once (in several files) is merged over its training seeds
    (``merge_runs``: the later file's run of a seed wins)."""
    by_name = merge_runs(runs)
    if not names:
        return list(by_name.values())
    missing = [n for n in names if n not in by_name]
    if missing:
        raise ConfigError(f"not in the baseline files: {', '.join(missing)}; "
                          f"they hold: {', '.join(sorted(by_name))}")  # fmt: skip
    return [by_name[n] for n in names]


def format_compare(study: CompareStudy) -> str:
    """A table, one row per baseline (closest first), then the summary line."""
    head = ["baseline", "n", "mean", "difference", "s.e.", "z", "verdict", "paired (wins)",
            "paired t"]
    rows = []
    for c in study.comparisons:
        paired, t = "-", "-"
        if c.paired_seeds:
            paired = f"{c.paired_mean:+.4f} ({c.paired_wins}/{len(c.paired_seeds)})"
        if c.paired_t is not None:
            t = f"{c.paired_t:+.2f} ({len(c.paired_seeds) - 1} dof)"
        rows.append([c.baseline, str(c.n_baseline), f"{c.mean_baseline:.4f}",
                     f"{c.difference:+.4f}", f"{c.standard_error:.4f}", f"{c.z:+.2f}",
                     c.verdict, paired, t])  # fmt: skip
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)] if rows else \
        [len(h) for h in head]  # fmt: skip
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in [head, *rows]]  # fmt: skip
    scores = ", ".join(f"{s}: {v:.4f}" for s, v in sorted(study.candidate_scores.items()))
    mean = statistics.fmean(study.candidate_scores.values())
    source = f" ({study.sigma_from})" if study.sigma_from else ""
    title = (f"{study.candidate} at {study.rung}: mean {mean:.4f} over "
             f"{len(study.candidate_scores)} training seed{_s(len(study.candidate_scores))} "
             f"({scores}); "
             f"sigma {study.sigma:.4f}{source}")
    return "\n".join([title, *lines, *([f"note: {study.note}"] if study.note else []),
                      study.summary()])  # fmt: skip


def sigma_of(rung: str, ladder: str) -> float:
    """The rung's recorded score sigma; ConfigError when the rung is unknown or has none."""
    from genesys_tui.ladder import load_ladder

    sigma = load_ladder(ladder).rung(rung).score_sigma
    if not sigma:
        raise ConfigError(f"rung {rung!r} of ladder {ladder!r} has no measured score_sigma; "
                          "pass --sigma")  # fmt: skip
    return float(sigma)


def load_inputs(candidate: str | Path, against: Sequence[str | Path], names: Sequence[str],
                design: str | None = None) -> tuple[Runs, list[Runs]]:  # fmt: skip
    """The candidate's runs and the chosen baselines. The candidate is ``design`` in its file,
    or, without ``design``, the file's only design (a noise study)."""
    found = held = read_runs(candidate)
    if design is not None:
        found = [r for r in held if r.design == design]
        if not found:
            raise ConfigError(f"{candidate}: no design {design!r}; it holds "
                              f"{', '.join(sorted(r.design for r in held))}")  # fmt: skip
    elif len(found) != 1:
        raise ConfigError(f"{candidate}: holds {len(found)} designs; name the candidate with "
                          "--design NAME")  # fmt: skip
    baselines: list[Runs] = []
    for path in against:
        baselines += read_runs(path)
    chosen = [b for b in select(baselines, names) if b.design != found[0].design]
    if not chosen:
        raise ConfigError("no baseline to compare with (the files hold only the candidate)")
    return found[0], chosen


def _s(n: int) -> str:
    return "" if n == 1 else "s"
