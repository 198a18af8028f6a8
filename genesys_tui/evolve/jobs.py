"""Work the loop does off its own thread. Checks run on a loop thread (the checker walls the
design's code in a cell of its own); verifications run as hosted runner jobs (``verify_host``)
whose training runs in a walled cell (``verify.job.verify_job`` there), never in the loop's (or
the dashboard's) process. Arguments and results are JSON."""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from genesys_tui import wall
from genesys_tui.evolve.halving import EarlyStop
from genesys_tui.results import CheckResult, RungResult
from genesys_tui.verify.job import CURVE_POINTS, thin, verify_job
from genesys_tui.verify.verify import TASKS_MIN_TOKENS  # a constant: the module imports no torch

__all__ = [
    "CURVE_POINTS", "VERIFY_PRELOAD", "check_host", "pack_design", "portable", "run_check", "thin",
    "unpack_design",
    "verify_host", "verify_job",
]  # fmt: skip


def pack_design(design_dir: str | Path) -> dict[str, str]:
    """A design's files as {relative path: text}: what a job carries instead of a path into the
    designs repository, so that it can run on a machine that has no copy of it."""
    root = Path(design_dir)
    return {
        str(p.relative_to(root)): p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*")) if p.is_file()
    }  # fmt: skip


def portable(kwargs: dict[str, Any]) -> dict[str, Any]:
    """A host job's arguments made to run on a machine that shares no filesystem with this
    one: the design's files instead of its directory, a ladder file's text instead of its path
    (``ladder_toml``, which ``ray_runner.run_task`` writes to a file on the node again)."""
    out = dict(kwargs)
    if out.get("design_dir"):
        out["files"] = pack_design(out.pop("design_dir"))
    ladder = out.get("ladder")
    if isinstance(ladder, str) and ladder.endswith(".toml") and Path(ladder).is_file():
        out["ladder_toml"] = Path(ladder).read_text(encoding="utf-8")
    return out


def unpack_design(files: Mapping[str, str], root: str | Path) -> None:
    """Write a design's files ({relative path: text}, ``pack_design``) under ``root``."""
    for name, text in files.items():
        path = Path(root, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def absolute_ladder(ladder: str) -> str:
    """A ladder file's absolute path (a built-in ladder's name as it is): a relative path given
    by the user names nothing in a cell, whose working directory is another."""
    if ladder.endswith(".toml") and Path(ladder).is_file():
        return str(Path(ladder).resolve())
    return ladder


def _design_files(design_dir: str, files: dict[str, str] | None) -> dict[str, str]:
    if files is None:
        if not design_dir:
            raise ValueError("a job names its design by design_dir or carries its files")
        return pack_design(design_dir)
    for name in files:
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise ValueError(f"a design file may not leave its directory: {name!r}")
    return files


def check_host(
    design_dir: str = "",
    rung: str | None = None,
    files: dict[str, str] | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
    timeout: float = 0.0,
    threads: int = 0,
    gpu: str = "",
) -> dict[str, Any]:
    """A check job, run from the trusted side (the runner's thread, here or on a cluster node):
    the checker's verdict (``run_check``) on the design's files, as ``CheckResult.to_wire``.
    With ``files`` (carried by a remote job) they are written to a scratch directory first."""
    import tempfile

    if files is None and design_dir:
        return run_check(design_dir, rung).to_wire()
    with tempfile.TemporaryDirectory(prefix="genesys-check-") as tmp:
        unpack_design(_design_files(design_dir, files), tmp)
        return run_check(tmp, rung).to_wire()


def run_check(design_dir: str, rung: str | None) -> CheckResult:
    """The checker's verdict as the loop records it. Runs on a loop thread: the checker keeps
    the design's code in its own sandboxed child, and this process never imports torch."""
    from genesys_tui.checker import check_design

    report = check_design(design_dir, rung=rung)
    data = report.to_dict()
    errors = [f for f in data["findings"] if f.get("severity") == "error"]
    summary = (
        "passed" if report.ok else "; ".join(f"{f['check']}: {f['message']}" for f in errors[:3])
    )
    return CheckResult(
        ok=bool(report.ok),
        summary=summary,
        findings=tuple(data["findings"]),
        seconds=round(float(report.seconds), 3),
        fingerprint=str(report.figures.get("fingerprint", "")),
    )


#: What a verify cell imports before it is handed a design.
VERIFY_PRELOAD = (
    "torch",
    "genesys_tui.verify.walled",
    "genesys_tui.verify.job",
    "genesys_tui.verify.verify",
    "genesys_tui.verify.train",
    "genesys_tui.verify.evals.evaluate",
    "genesys_tui.verify.evals.lm_model",
    "lm_eval.evaluator",
    "lm_eval.tasks",
)


def verify_limits(timeout: float, threads: int, gpu: bool) -> wall.Limits:
    """A verify cell's resource limits: CPU seconds for ``timeout`` at full use of its threads
    (plus the imports), and on the CPU an address space of three quarters of the machine's
    memory (none for GPU jobs, whose driver reserves address space far beyond what they use)."""
    import os

    import psutil

    cores = threads or os.cpu_count() or 1
    memory_mb = 0 if gpu else int(psutil.virtual_memory().total * 0.75 / 2**20)
    return wall.Limits(memory_mb=memory_mb, cpu_s=int(timeout * cores) + 300)


def verify_host(
    design_dir: str = "",
    rung: str = "",
    ladder: str = "cpu",
    seed: int = 0,
    pairs: int = 0,
    tasks_min_tokens: int = TASKS_MIN_TOKENS,
    progress: Callable[[dict[str, Any]], None] | None = None,
    timeout: float = 3600.0,
    threads: int = 0,
    gpu: str = "",
    stop_above: Sequence[float] | None = None,
    files: dict[str, str] | None = None,
) -> dict[str, Any]:
    """``verify_job`` inside a walled cell, run from the trusted side (the runner's thread,
    which imports no torch): the token caches are built here first (the cell sees the training
    split's read-only, and neither the held-out split nor the text the tasks are made of), the
    design's files travel with the job, and an auditor cell scores the trained model's graph
    (``verify.audit``) before the result is returned. A cell that dies, times out or fails the
    audit gives a failed RungResult naming why. ``stop_above`` = (fraction, loss): stop the run
    when its training loss at that fraction of its steps is above that loss (``EarlyStop``).
    The design comes from ``design_dir`` or, for a job that runs where the designs repository is
    not, from the ``files`` it carries (``portable``)."""
    from genesys_tui.ladder import load_ladder
    from genesys_tui.verify.audit import GRAPH_DIR, Auditor
    from genesys_tui.verify.corpus import embedded_held_out_files
    from genesys_tui.verify.token_cache import cache_root, load_tokens

    ladder = absolute_ladder(ladder)  # the cell has another working directory
    the_rung = load_ladder(ladder).rung(rung)
    train = load_tokens("train", the_rung.tokenizer)
    held_out = load_tokens("validation", the_rung.tokenizer)
    auditor = Auditor.for_rung(len(held_out.tokens), the_rung)
    files = _design_files(design_dir, files)
    env = {"GENESYS_CACHE": str(cache_root().parent)}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    if gpu:
        env["CUDA_VISIBLE_DEVICES"] = gpu
    ladder_file = [ladder] if Path(ladder).is_file() else []
    spec = wall.CellSpec(preload=VERIFY_PRELOAD, read_only=(str(train.path), *ladder_file),
                         env=tuple(sorted(env.items())), gpu=bool(gpu),
                         hidden=embedded_held_out_files(),
                         limits=verify_limits(timeout, threads, bool(gpu)))  # fmt: skip
    # The auditor's cell runs no design code: it reads every token cache (the held-out split
    # it scores) and the tasks' text.
    audit_cell = dataclasses.replace(spec, read_only=(str(cache_root()), *ladder_file), hidden=())
    stopper = EarlyStop(*stop_above) if stop_above else None

    def on_event(event: dict[str, Any]) -> str | None:
        if progress is not None:
            progress(event)
        return wall.STOP if stopper is not None and stopper.losing(event) else None

    outcome = wall.run_walled(
        wall.current(), spec, "genesys_tui.verify.walled:verify_in_cell",
        {"files": files, "rung": rung, "ladder": ladder, "seed": seed, "pairs": pairs,
         "tasks_min_tokens": tasks_min_tokens, "threads": threads},
        on_event=on_event, timeout=timeout, collect=GRAPH_DIR,
    )  # fmt: skip
    try:
        if outcome.status == "stopped" and stopper is not None:
            return RungResult.failed(stopper.reason, outcome.seconds).to_wire()
        if not outcome.ok:
            return _cell_failed(outcome, timeout)
        return _audited(outcome.value, outcome.collected, auditor, held_out, the_rung,
                        _Scoring(timeout, threads, seed, pairs, tasks_min_tokens, ladder,
                                 audit_cell))  # fmt: skip
    finally:
        if outcome.collected is not None:
            shutil.rmtree(outcome.collected, ignore_errors=True)


def _cell_failed(outcome: wall.Outcome, timeout: float) -> dict[str, Any]:
    why = {"timeout": f"timed out after {timeout:.0f} s", "startup": "the cell did not start"}
    tail = _stderr_tail(outcome)
    reason = why.get(outcome.status) or outcome.error or f"the cell died ({outcome.exitcode})"
    return RungResult.failed(f"{reason}\n{tail}".strip(), outcome.seconds).to_wire()


def _stderr_tail(outcome: wall.Outcome) -> str:
    """The last lines a failed cell wrote to stderr, for its failure's reason."""
    return "\n".join(outcome.stderr.strip().splitlines()[-6:])


#: How many times an auditor cell is started for one audit. It runs no design code, so a cell
#: that dies without an answer or never starts (a signal from outside, the machine short of
#: memory) is the host's failure, not the design's: the audit is run again before the design's
#: result fails. A job that raised or timed out is not retried.
AUDIT_TRIES = 2

#: What an auditor cell imports: torch, the graph runner and the evaluation, never a design.
AUDIT_PRELOAD = (
    "torch",
    "genesys_tui.verify.graph_audit",
    "genesys_tui.verify.evals.evaluate",
    "genesys_tui.verify.evals.lm_model",
    "lm_eval.evaluator",
    "lm_eval.tasks",
)


@dataclasses.dataclass(frozen=True)
class _Scoring:
    """What the audit needs of the verification's settings."""

    timeout: float
    threads: int
    seed: int
    pairs: int
    tasks_min_tokens: int
    ladder: str  # a built-in ladder's name or a ladder file's absolute path
    cell: wall.CellSpec  # the auditor cell's environment, read-only paths and limits' owner


def _audited(value: Any, graph_dir: Path | None, auditor: Any, held_out: Any, rung: Any,
             scoring: _Scoring) -> dict[str, Any]:  # fmt: skip
    """The cell's result scored by the coordinator (``verify.audit``): the held-out bits per
    byte and the tasks' accuracies from the trained model's graph run by an auditor cell, the
    graph's causality and size judged here; whatever figures the cell sent are dropped. A
    failed result names why where the result does not read or the audit fails."""
    from genesys_tui.verify.audit import AuditFailed

    value = value if isinstance(value, dict) else {}
    try:
        result = RungResult.from_wire(value["result"])
    except (KeyError, TypeError, ValueError) as exc:
        return RungResult.failed(f"the cell's result does not read ({exc!r})").to_wire()
    if not result.ok:
        return result.to_wire()
    t0 = time.monotonic()
    try:
        evidence, probes = _audit_graph(value, graph_dir, auditor, held_out, rung, scoring)
    except AuditFailed as exc:
        return RungResult.failed(f"audit: {exc}", result.seconds).to_wire()
    spent = time.monotonic() - t0
    notes = (*result.notes,
             f"graph scored: {len(auditor.windows)} held-out windows, {probes} causality probes; "
             f"exported in {_seconds(value.get('export_seconds'))} s, audited in {spent:.1f} s")
    result = _scored(result, evidence["bpb"], evidence.get("evals") or {})
    # The numerics are the auditor's (the same machine and device as the training cell's),
    # never the cell's own claim.
    return dataclasses.replace(result, seconds=result.seconds + spent, notes=notes,
                               params=int(evidence["parameters"]),
                               numerics=str(evidence.get("numerics") or "")).to_wire()  # fmt: skip


def _seconds(x: Any) -> str:
    """The cell's own timing (a figure for people, never for a verdict)."""
    return f"{x:.1f}" if isinstance(x, (int, float)) and not isinstance(x, bool) else "?"


def _scored(result: RungResult, bpb: float, evals: dict[str, Any]) -> RungResult:
    """``result`` with the audited bits per byte, the auditor's task accuracies and the rung
    score the coordinator computes from them (``verify.score_of``, as ``verify`` does); of the
    cell's own scores only its training speed is kept."""
    from genesys_tui.verify.fitness import FitnessSettings
    from genesys_tui.verify.verify import score_of

    accuracy = {str(k): float(v) for k, v in evals.items()}
    score = score_of(bpb, accuracy, FitnessSettings())
    scores = {k: float(v) for k, v in result.scores.items() if k == "tokens_per_second"}
    scores.update({f"eval/{k}": v for k, v in accuracy.items()}, bpb=float(bpb),
                  score=float(score))  # fmt: skip
    return dataclasses.replace(result, scores=scores, evals=accuracy)


def _run_auditor(spec: wall.CellSpec, kwargs: dict[str, Any], timeout: float) -> dict[str, Any]:
    """What the auditor cell returned, started again (``AUDIT_TRIES``) when it died without an
    answer; AuditFailed with the cell's exit code and the tail of its stderr when it failed."""
    from genesys_tui.verify.audit import AuditFailed

    tries = 0
    while True:
        tries += 1
        outcome = wall.run_walled(wall.current(), spec,
                                  "genesys_tui.verify.graph_audit:audit_in_cell", kwargs,
                                  timeout=timeout)  # fmt: skip
        if outcome.ok or outcome.status not in ("died", "startup") or tries == AUDIT_TRIES:
            break
    if not outcome.ok:
        why = outcome.error or f"{outcome.status} (exit code {outcome.exitcode})"
        tail = _stderr_tail(outcome)
        tries_note = f" ({tries} tries)" if tries > 1 else ""
        raise AuditFailed(f"the auditor's cell failed{tries_note}: {why}\n{tail}".strip())
    return outcome.value if isinstance(outcome.value, dict) else {}


def _audit_graph(value: dict[str, Any], graph_dir: Path | None, auditor: Any, held_out: Any,
                 rung: Any, scoring: _Scoring) -> tuple[dict[str, Any], int]:  # fmt: skip
    """Run the held-out windows, the causality probes and the rung's tasks through the graph
    in an auditor cell and judge; the auditor's figures with the audited bits per byte
    (``bpb``), and the number of probes."""
    from genesys_tui.verify.audit import AuditFailed, judge_graph, plan_probes
    from genesys_tui.verify.verify import VerifySettings

    if value.get("graph_error"):
        raise AuditFailed(str(value["graph_error"]))
    if graph_dir is None:
        raise AuditFailed("the cell left no graph of its trained model")
    probes = plan_probes(auditor.probed, rung.context_length)
    settings = VerifySettings(pairs=scoring.pairs, tasks_min_tokens=scoring.tasks_min_tokens)
    tasks = list(settings.tasks_for(rung))
    cell = scoring.cell
    spec = wall.CellSpec(preload=AUDIT_PRELOAD, read_only=(*cell.read_only, str(graph_dir.parent)),
                         env=cell.env, gpu=cell.gpu,
                         limits=verify_limits(scoring.timeout, scoring.threads,
                                              cell.gpu))  # fmt: skip
    kwargs = {"graph_dir": str(graph_dir), "windows": [list(w) for w in auditor.windows],
              "probes": probes, "ladder": scoring.ladder, "rung": rung.name, "tasks": tasks,
              "pairs": settings.pairs_for(rung), "seed": scoring.seed, "threads": scoring.threads,
              "device": "cuda" if cell.gpu else "cpu"}  # fmt: skip
    evidence = _run_auditor(spec, kwargs, scoring.timeout)
    try:
        judge_graph(evidence, rung, len(probes))
        bpb = auditor.bpb(evidence.get("losses"), held_out.tokens, held_out.token_bytes)
        if tasks and not isinstance(evidence.get("evals"), dict):
            raise AuditFailed("the auditor scored no tasks")
        return {**evidence, "bpb": bpb}, len(probes)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise AuditFailed(f"the auditor's figures do not read ({exc!r})") from None
