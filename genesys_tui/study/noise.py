"""The noise floor of a rung: the same design trained with K training seeds.

A seed changes the initialisation and the order of the training data (``TrainSettings.seed``),
so the spread of the K results is what a rung's figures move by when nothing about the design
changes. Below it, one design "beating" another is noise. Reported per seed and as mean and
sample standard deviation of held-out bits per byte, each task's accuracy and the rung score.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genesys_tui.errors import ConfigError

if TYPE_CHECKING:
    from genesys_tui.ladder import Ladder

#: Format of a stored noise study (docs/studies/noise-*.json).
NOISE_FORMAT = 1


@dataclass(frozen=True)
class SeedRun:
    """One training seed's result at the rung."""

    seed: int
    bpb: float
    score: float  # the rung score the loop's fitness uses
    evals: dict[str, float]  # task -> accuracy (empty where the rung skips the tasks)
    seconds: float  # wall seconds of the training and evaluation
    numerics: str = ""  # where it was computed (verify.numerics); "" in studies made before


@dataclass(frozen=True)
class Spread:
    """Mean and sample standard deviation (n - 1) of one figure over the seeds."""

    mean: float
    std: float
    n: int


@dataclass(frozen=True)
class NoiseStudy:
    design: str
    rung: str
    runs: tuple[SeedRun, ...]
    bpb: Spread
    score: Spread
    evals: dict[str, Spread]
    format: int = NOISE_FORMAT
    measured_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M UTC"))

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"


def spread(values: Sequence[float]) -> Spread:
    """Mean and sample standard deviation; ConfigError for fewer than two values."""
    if len(values) < 2:
        raise ConfigError(f"a spread needs at least 2 values, got {len(values)}")
    return Spread(statistics.fmean(values), statistics.stdev(values), len(values))


def pooled_std(groups: Mapping[str, Sequence[float]]) -> Spread:
    """The rung's noise from several designs' seeds: the pooled sample standard deviation,
    sqrt(sum (n_i - 1) s_i^2 / sum (n_i - 1)), each design about its own mean (so designs that
    differ do not inflate it); ``mean`` is the mean of the designs' means, ``n`` the degrees of
    freedom. Designs with one seed add nothing; ConfigError if none has two."""
    used = {k: list(v) for k, v in groups.items() if len(v) >= 2}
    if not used:
        raise ConfigError("a pooled spread needs a design with at least 2 seeds")
    dof = sum(len(v) - 1 for v in used.values())
    ss = sum((len(v) - 1) * statistics.variance(v) for v in used.values())
    return Spread(statistics.fmean(statistics.fmean(v) for v in used.values()), (ss / dof) ** 0.5,
                  dof)  # fmt: skip


def summarise(design: str, rung: str, runs: Sequence[SeedRun]) -> NoiseStudy:
    """The study of ``runs`` (two or more seeds of one design at one rung)."""
    tasks = sorted(set.intersection(*(set(r.evals) for r in runs))) if runs else []
    return NoiseStudy(
        design=design,
        rung=rung,
        runs=tuple(runs),
        bpb=spread([r.bpb for r in runs]),
        score=spread([r.score for r in runs]),
        evals={t: spread([r.evals[t] for r in runs]) for t in tasks},
    )


def run_noise_study(
    design: str,
    rung: str,
    seeds: int,
    *,
    ladder: str = "cpu",
    first_seed: int = 0,
    threads: int = 0,
    namespace: str | None = None,
    on_run: Callable[[SeedRun], None] | None = None,
) -> NoiseStudy:
    """Verify ``design`` at ``rung`` with seeds ``first_seed .. first_seed + seeds - 1``, each
    as the loop verifies: checked once, then trained in a walled cell and scored on its graph
    by an auditor cell (``evolve.jobs``), so the design's code never runs in this process.
    With ``namespace``, ``design`` is a design id there (``rwkv7-81149d-6``): its committed
    files are studied, under that id, and each run is kept beside the design's result there
    as it finishes (``repeats:<rung>``, which a discovery benchmark's ``--confirm`` reads).

    Raises ConfigError for fewer than two seeds, an unknown rung or design (checked before
    anything is trained), StoreError for an unknown namespace or design id or a namespace
    another process writes (an evolution loop: checked before training), and VerifyError for
    a design the checker rejects or a run that fails (a noise study of a design that does not
    train has no meaning).
    """
    if namespace is None:
        return _study(design, None, rung, seeds, ladder, first_seed, threads, on_run)
    import tempfile

    from genesys_tui.store import DesignsRepo, namespace_path
    from genesys_tui.study.climb import writable, write_design

    _check_request(rung, seeds, ladder)  # before the repository is read
    with DesignsRepo.open(namespace_path(namespace)) as repo:
        design_id = repo.get(design).id
        files = repo.read_design_files(design_id)
    writable(namespace_path(namespace))  # each run is kept there as it finishes
    def keep(run: SeedRun) -> None:
        from genesys_tui.errors import StoreError
        from genesys_tui.results import RungResult
        from genesys_tui.study.climb import keep_run

        result = RungResult(ok=True, scores={"score": run.score, "bpb": run.bpb},
                            seconds=run.seconds)  # fmt: skip
        try:
            keep_run(namespace_path(namespace), design_id, rung, run.seed, result)
        except StoreError as exc:  # the study still reports the run
            print(f"warning: seed {run.seed}'s run is not kept in {namespace}: {exc}",
                  file=sys.stderr)  # fmt: skip
        if on_run is not None:
            on_run(run)

    with tempfile.TemporaryDirectory(prefix="genesys-noise-") as tmp:
        write_design(files, tmp)
        return _study(tmp, design_id, rung, seeds, ladder, first_seed, threads, keep)


def _check_request(rung: str, seeds: int, ladder: str) -> Ladder:
    """The ladder, once the seed count and the rung are known good (ConfigError if not)."""
    from genesys_tui.ladder import load_ladder

    if seeds < 2:
        raise ConfigError(f"--seeds must be at least 2 to measure a spread, got {seeds}")
    the_ladder = load_ladder(ladder)
    names = sorted(r.name for r in the_ladder)
    if rung not in names:
        raise ConfigError(f"unknown rung {rung!r} in ladder {ladder!r}; known: {names}")
    return the_ladder


def _study(
    path: str,
    name: str | None,
    rung: str,
    seeds: int,
    ladder: str,
    first_seed: int,
    threads: int,
    on_run: Callable[[SeedRun], None] | None,
) -> NoiseStudy:
    """The study of the design directory (or library name) ``path``, reported as ``name``
    (None: the name its design.json gives)."""
    from genesys_tui import wall
    from genesys_tui.design import load_design
    from genesys_tui.errors import VerifyError
    from genesys_tui.evolve.jobs import run_check, verify_host
    from genesys_tui.results import RungResult

    the_ladder = _check_request(rung, seeds, ladder)
    loaded = load_design(path)
    if loaded.path is None:
        raise ConfigError(f"design {path!r} has no directory to verify")
    wall.current()  # SandboxUnavailable without bubblewrap (unless --no-sandbox)
    check = run_check(str(loaded.path), rung if the_ladder.builtin else None)
    if not check.ok:
        raise VerifyError(f"{loaded.name}: the checker rejects it: {check.summary}")
    runs = []
    for seed in range(first_seed, first_seed + seeds):
        result = RungResult.from_wire(verify_host(str(loaded.path), rung, ladder=ladder,
                                                  seed=seed, threads=threads, timeout=86400.0))
        score = result.score
        if not result.ok or result.bpb is None or score is None:
            raise VerifyError(f"{loaded.name} at {rung}, seed {seed}: {result.reason}")
        run = SeedRun(seed, result.bpb, score, dict(result.evals), result.seconds,
                      result.numerics)  # fmt: skip
        runs.append(run)
        if on_run is not None:
            on_run(run)
    return summarise(name or loaded.name, rung, runs)


def format_study(study: NoiseStudy) -> str:
    """The study as a small table: one row per seed, then mean and standard deviation."""
    tasks = sorted(study.evals)
    head = ["seed", "bpb", "score", *tasks, "seconds"]
    rows = [
        [str(r.seed), f"{r.bpb:.4f}", f"{r.score:.4f}"]
        + [f"{r.evals[t]:.3f}" for t in tasks]
        + [f"{r.seconds:.0f}"]
        for r in study.runs
    ]
    rows.append(
        ["mean", f"{study.bpb.mean:.4f}", f"{study.score.mean:.4f}"]
        + [f"{study.evals[t].mean:.3f}" for t in tasks]
        + [""]
    )
    rows.append(
        ["std", f"{study.bpb.std:.4f}", f"{study.score.std:.4f}"]
        + [f"{study.evals[t].std:.3f}" for t in tasks]
        + [""]
    )
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(head, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    title = f"{study.design} at {study.rung}: {len(study.runs)} training seeds"
    return title + "\n" + "\n".join(lines)


def load_study(path: str | Path) -> NoiseStudy:
    """A stored study, as ``to_json`` wrote it."""
    data: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    if data.get("format") != NOISE_FORMAT:
        raise ConfigError(f"{path}: not a noise study of format {NOISE_FORMAT}")
    runs = tuple(SeedRun(**r) for r in data["runs"])
    return NoiseStudy(
        design=data["design"],
        rung=data["rung"],
        runs=runs,
        bpb=Spread(**data["bpb"]),
        score=Spread(**data["score"]),
        evals={k: Spread(**v) for k, v in data["evals"].items()},
        measured_at=data["measured_at"],
    )
