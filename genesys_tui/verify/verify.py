"""``verify(design, rung) -> VerifyResult``: check, train, evaluate and score in one call.

This is what the evolution loop runs in a worker process for each design and rung, and what
``genesys verify`` prints. The evaluation reads the weights back from the checkpoint training
wrote (not from the model object training left in memory), so a score can only come from the
weights that were saved, and ``weights_sha256`` names them.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genesys_tui.design import Design, load_design
from genesys_tui.errors import ConfigError
from genesys_tui.ladder import Rung, builtin_ladders, find_rung
from genesys_tui.verify.corpus import CorpusSource
from genesys_tui.verify.fitness import FitnessSettings, rung_score

#: Rungs with fewer training tokens than this evaluate on fewer generated pairs, so that
#: evaluation does not cost more than the seconds of training it judges.
SMALL_RUNG_TOKENS = 150_000
#: Rungs training fewer tokens than this skip the lm-eval tasks by default. Measured on the
#: embedded corpus (docs/notes/issue6-eval.md): GPT is at chance on every generated phenomenon
#: until about 1M tokens, so below that the accuracies are noise that would only reorder designs
#: whose bits per byte differ clearly. Probes still run: they train their own model.
TASKS_MIN_TOKENS = 1_000_000


@dataclass(frozen=True)
class VerifySettings:
    """What to measure after training. Loaded from the ``[verify]`` table of a settings file."""

    tasks: tuple[str, ...] = ("genblimp", "heldout_lastword")  # lm-eval tasks (evals.tasks.prepare)
    pairs: int = 0  # generated pairs per phenomenon; 0: 200 on small rungs, else 1,000
    probes: tuple[str, ...] = ()  # synthetic probes to train and score: mqar, selective_copy
    blimp_dir: str | None = None  # directory of real BLiMP jsonl files, for blimp_local tasks
    limit: int | None = None  # at most this many documents per task (quick runs)
    tasks_min_tokens: int = TASKS_MIN_TOKENS  # rungs training fewer tokens skip `tasks` (0: never)
    check: bool = True  # run the checker first; a rejected design is not trained
    # False: leave the tasks to the caller (a walled verification's auditor scores them on the
    # trained model's graph, outside the design's process); fitness is then from bpb alone
    evaluate_tasks: bool = True
    # False: leave the held-out split to the caller too (the walled cell cannot read it; the
    # auditor scores every held-out window on the graph); bpb and fitness are then None
    evaluate_heldout: bool = True
    seed: int = 0  # training, evaluation order and probes
    device: str = "auto"  # auto, cpu, cuda, ...
    corpus: CorpusSource = field(default_factory=CorpusSource)  # what to train on
    fitness: FitnessSettings = field(default_factory=FitnessSettings)

    def __post_init__(self) -> None:
        for name in ("pairs", "tasks_min_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"verify.{name} must be an integer >= 0, got {value!r}")
        if self.pairs % 2:
            raise ConfigError(f"verify.pairs must be even (pairs come in couples): {self.pairs}")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"verify.limit must be at least 1, got {self.limit!r}")

    def pairs_for(self, rung: Rung) -> int:
        if self.pairs:
            return self.pairs
        return 200 if rung.tokens < SMALL_RUNG_TOKENS else 1000

    def tasks_for(self, rung: Rung) -> tuple[str, ...]:
        """The tasks evaluated at ``rung``: none on a rung too small for them to measure."""
        return self.tasks if rung.tokens >= self.tasks_min_tokens else ()


@dataclass(frozen=True)
class VerifyResult:
    """One design at one rung: what the checker said, training, evaluation and fitness."""

    design: str
    rung: str
    ok: bool  # checked, trained without diverging, evaluated
    reason: str | None  # why not ok: the checker's first error, or the divergence
    bpb: float | None  # held-out bits per byte
    val_loss: float | None  # held-out nats per token
    evals: dict[str, float]  # task (and group, and probe_<name>) -> accuracy
    fitness: float | None  # the rung score (verify.fitness.rung_score)
    tokens_per_second: float  # training throughput
    tokens: int  # training tokens the trainer consumed (0 when not trained)
    params: int  # parameters of the trained model (0 when not trained)
    non_embedding_params: int
    seconds: dict[str, float]  # wall seconds per phase: check, train, eval, probes
    weights_sha256: str  # fingerprint of the trained weights scored (bpb, tasks); "" if none
    checkpoint: str | None  # where the trained weights are, when kept
    check: dict[str, Any] | None = None  # the checker's report, when it ran
    notes: list[str] = field(default_factory=list)  # what was skipped, and why

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict())


def failed_result(design: str, rung: str, reason: str, seconds: dict[str, float],
                  **kw: Any) -> VerifyResult:
    """A VerifyResult that is not ok, for ``reason``, with nothing trained or scored."""
    base: dict[str, Any] = dict(
        bpb=None, val_loss=None, evals={}, fitness=None, tokens_per_second=0.0, tokens=0, params=0,
        non_embedding_params=0, weights_sha256="", checkpoint=None,
    )  # fmt: skip
    base.update(kw)
    return VerifyResult(design, rung, False, reason, seconds=seconds, **base)


def verify(
    design: Design | str | Path,
    rung: Rung | str,
    settings: VerifySettings | None = None,
    *,
    out_dir: str | Path | None = None,
    on_progress: Callable[[Any], None] | None = None,
) -> VerifyResult:
    """Check, train at ``rung``, evaluate and score ``design``.

    ``out_dir`` keeps the checkpoint (``out_dir/checkpoint.pt``); without it a temporary
    directory is used and removed. A design the checker rejects, or a run that diverges, gives
    a result with ``ok`` false and the reason; it is not an exception. Errors of the caller's
    making (an unknown rung or task, missing data) raise ConfigError or VerifyError.
    """
    s = settings or VerifySettings()
    d = design if isinstance(design, Design) else load_design(design)
    r = rung if isinstance(rung, Rung) else find_rung(rung)
    seconds: dict[str, float] = {}
    report = None
    if s.check:
        from genesys_tui.checker import check_design

        t0 = time.perf_counter()
        # the checker sizes its parameter budget from the built-in rungs; a user's own rung
        # gets its default budget
        builtin = {x.name for ladder in builtin_ladders().values() for x in ladder}
        rep = check_design(d, rung=r.name if r.name in builtin else None)
        seconds["check"] = time.perf_counter() - t0
        report = rep.to_dict()
        if not rep.ok:
            first = rep.errors[0]
            reason = f"rejected by the checker: {first.check}: {first.message}"
            return failed_result(d.name, r.name, reason, seconds, check=report)
    with tempfile.TemporaryDirectory(prefix="genesys-verify-") as tmp:
        where = Path(out_dir) if out_dir is not None else Path(tmp)
        return _train_and_evaluate(d, r, s, where, seconds, report, out_dir is not None,
                                   on_progress)  # fmt: skip


def score_of(bpb: float | None, evals: Mapping[str, float], fitness: FitnessSettings,
             extra_chance: Mapping[str, float] | None = None) -> float | None:
    """The rung score of ``bpb`` and the accuracies ``evals`` (``fitness.rung_score``): each
    task scored against its chance level (the settings' own first, then the tasks', then
    ``extra_chance``, e.g. the probes'), a group's mean left out since it repeats its tasks.
    ``verify`` and the coordinator's audit of a walled verification score alike through it."""
    from genesys_tui.verify.evals.tasks import CHANCE, GENBLIMP, LOCAL_BLIMP

    chance = {**(extra_chance or {}), **CHANCE, **fitness.chance}
    scored = {k: v for k, v in evals.items() if k not in (GENBLIMP, LOCAL_BLIMP)}
    return rung_score(bpb, scored, dataclasses.replace(fitness, chance=chance))


def _train_and_evaluate(
    d: Design,
    r: Rung,
    s: VerifySettings,
    where: Path,
    seconds: dict[str, float],
    report: dict[str, Any] | None,
    keep: bool,
    on_progress: Callable[[Any], None] | None,
) -> VerifyResult:
    from genesys_tui.verify.checkpoint import load_checkpoint
    from genesys_tui.verify.evals.evaluate import evaluate
    from genesys_tui.verify.evals.lm_model import GenesysLM, weights_sha256
    from genesys_tui.verify.evals.probes import ProbeSettings, probe, run_probe
    from genesys_tui.verify.train import TrainSettings, train

    t0 = time.perf_counter()
    trained = train(
        d, r, settings=TrainSettings(seed=s.seed, device=s.device, evaluate=s.evaluate_heldout),
        out_dir=where,
        source=s.corpus, on_progress=on_progress,
    )  # fmt: skip
    seconds["train"] = time.perf_counter() - t0
    common: dict[str, Any] = dict(
        tokens_per_second=trained.tokens_per_second, tokens=trained.tokens, params=trained.params,
        non_embedding_params=trained.non_embedding_params, check=report,
        bpb=trained.bpb, val_loss=trained.val_loss,
    )  # fmt: skip
    if trained.stopped or trained.checkpoint is None:
        return failed_result(d.name, r.name, trained.stopped or "training wrote no checkpoint",
                       seconds, **common)  # fmt: skip
    evals: dict[str, float] = {}
    sha = ""
    tasks = s.tasks_for(r)
    notes: list[str] = []
    if s.tasks and not tasks:
        notes.append(
            f"tasks skipped: rung {r.name} trains {r.tokens:,} tokens, fewer than "
            f"tasks_min_tokens {s.tasks_min_tokens:,} (below that the tasks sit at chance); "
            "fitness is from bits per byte" + (" and the probes" if s.probes else "")
        )
    if tasks and s.evaluate_tasks:
        t1 = time.perf_counter()
        device = None if s.device == "auto" else s.device
        lm = GenesysLM(checkpoint=trained.checkpoint, device=device)
        got = evaluate(lm, tasks, blimp_dir=s.blimp_dir, pairs=s.pairs_for(r),
                       limit=s.limit, seed=s.seed)  # fmt: skip
        evals.update(got.accuracy)
        sha = got.weights_sha256
        seconds["eval"] = time.perf_counter() - t1
    else:  # the weights were still trained and scored on bits per byte: name them
        sha = weights_sha256(load_checkpoint(trained.checkpoint, device="cpu")[0])
    probe_chance: dict[str, float] = {}
    if s.probes:
        t2 = time.perf_counter()
        for name in s.probes:
            res = run_probe(d, name, ProbeSettings(seed=s.seed))
            evals[f"probe_{name}"] = res.accuracy
            probe_chance[f"probe_{name}"] = probe(name).chance
        seconds["probes"] = time.perf_counter() - t2
    fitness = score_of(trained.bpb, evals, s.fitness, probe_chance) if s.evaluate_heldout else None
    return VerifyResult(
        design=d.name, rung=r.name, ok=True, reason=None, evals=evals, fitness=fitness,
        seconds=seconds, weights_sha256=sha, notes=notes,
        checkpoint=str(trained.checkpoint) if keep else None, **common,
    )  # fmt: skip
