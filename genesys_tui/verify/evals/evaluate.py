"""Run lm-eval tasks on a model and collect accuracy per task.

``evaluate(lm, tasks)`` writes the task files ``tasks`` need into a directory (a temporary one
unless given), runs ``lm_eval.simple_evaluate`` on them with ``lm`` (any lm-eval ``LM``: our
``GenesysLM`` or an n-gram baseline) and returns an ``EvalReport``. Group names (``genblimp``,
``blimp_local``) also get the unweighted mean of their tasks.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genesys_tui.errors import VerifyError
from genesys_tui.verify.evals.blimp_gen import DEFAULT_PAIRS
from genesys_tui.verify.evals.tasks import (
    TaskSet,
    hub_cache_empty,
    hub_message,
    hub_status,
    prepare,
)


@dataclass(frozen=True)
class EvalReport:
    """Accuracies of one model on lm-eval tasks."""

    accuracy: dict[str, float]  # task (or group) -> accuracy in [0, 1]
    stderr: dict[str, float] = field(default_factory=dict)  # task -> standard error
    docs: dict[str, int] = field(default_factory=dict)  # task -> documents scored
    weights_sha256: str = ""  # fingerprint of the weights scored ("" for non-neural models)
    seconds: float = 0.0  # wall time of the evaluation
    # task -> per document: its fields and the log-likelihood of each choice (log_samples only)
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "accuracy": dict(self.accuracy),
            "stderr": dict(self.stderr),
            "docs": dict(self.docs),
            "weights_sha256": self.weights_sha256,
            "seconds": round(self.seconds, 3),
        }


@contextlib.contextmanager
def _offline_if_unreachable(hub: Sequence[str]) -> Iterator[None]:
    """Without a route to the hub, set the offline flags for the run, so that datasets already
    cached still load and missing ones fail at once instead of retrying."""
    why = hub_status() if hub else ""
    saved = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")}
    if why:
        os.environ.update({k: "1" for k in saved})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_taskset(
    lm: Any, taskset: TaskSet, limit: int | None = None, seed: int = 0, log_samples: bool = False
) -> EvalReport:
    """Evaluate ``lm`` on a prepared TaskSet (see ``tasks.prepare``); with ``log_samples``, the
    report keeps each document's log-likelihoods too."""
    import random

    import numpy as np
    import torch
    from lm_eval.evaluator import evaluate as lm_eval_evaluate
    from lm_eval.tasks import TaskManager

    # lm-eval logs every task it builds at INFO; our own progress says enough
    logging.getLogger("lm_eval").setLevel(logging.WARNING)
    t0 = time.perf_counter()
    if taskset.hub:
        why = hub_status()
        if why and hub_cache_empty():  # fail now, not after lm-eval indexes its tasks (~20 s)
            raise VerifyError(hub_message(taskset.hub, why))
    random.seed(seed)
    np.random.seed(seed)
    with _offline_if_unreachable(taskset.hub), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        # lm_eval.simple_evaluate would also collect the machine's environment (seconds of
        # subprocesses per call); we call the evaluator underneath it
        manager = TaskManager(
            include_path=str(taskset.include_path), include_defaults=bool(taskset.hub)
        )
        try:
            loaded = manager.load(list(taskset.names))
            for task in loaded["tasks"].values():
                if task.get_config("num_fewshot") is None:
                    task.set_config(key="num_fewshot", value=0)
                task.set_fewshot_seed(seed=seed)
            out = lm_eval_evaluate(
                lm=lm,
                task_dict=loaded,
                limit=limit,
                bootstrap_iters=1000,
                log_samples=log_samples,
            )
        except Exception as exc:
            if taskset.hub and _is_hub_failure(exc):
                raise VerifyError(hub_message(taskset.hub, hub_status() or str(exc))) from exc
            raise
    if out is None:
        raise VerifyError("lm-eval returned no results (this process is not rank 0)")
    accuracy, stderr, docs = {}, {}, {}
    for name, metrics in out["results"].items():
        if "acc,none" in metrics:
            accuracy[name] = float(metrics["acc,none"])
            se = metrics.get("acc_stderr,none")
            if isinstance(se, (int, float)):
                stderr[name] = float(se)
    for name, n in out.get("n-samples", {}).items():
        docs[name] = int(n.get("effective", n.get("original", 0)))
    for group, members in taskset.groups.items():
        scored = [accuracy[m] for m in members if m in accuracy]
        if scored:
            accuracy[group] = sum(scored) / len(scored)
    samples = {
        task: [
            {"doc": row["doc"], "loglikelihoods": [float(r[0]) for r in row["filtered_resps"]]}
            for row in rows
        ]
        for task, rows in (out.get("samples") or {}).items()
    }
    return EvalReport(
        samples=samples,
        accuracy=accuracy,
        stderr=stderr,
        docs=docs,
        weights_sha256=str(getattr(lm, "weights_sha256", "")),
        seconds=time.perf_counter() - t0,
    )


def _is_hub_failure(exc: BaseException) -> bool:
    text = f"{type(exc).__name__}: {exc}".lower()
    keys = ("offline", "connection", "hub", "couldn't reach", "not found", "dataset")
    return any(k in text for k in keys)


def evaluate(
    lm: Any,
    tasks: Sequence[str],
    *,
    blimp_dir: str | Path | None = None,
    pairs: int = DEFAULT_PAIRS,
    limit: int | None = None,
    seed: int = 0,
    workdir: str | Path | None = None,
    log_samples: bool = False,
) -> EvalReport:
    """Accuracy of ``lm`` on ``tasks`` (see ``tasks.prepare`` for the names understood).

    ``pairs`` generated minimal pairs per phenomenon; ``limit`` caps the documents per task
    (for quick runs); task files go to ``workdir`` (kept) or a temporary directory (removed).
    """
    if not tasks:
        raise VerifyError("no tasks to evaluate: name at least one (for example genblimp)")
    with contextlib.ExitStack() as stack:
        where = workdir or stack.enter_context(tempfile.TemporaryDirectory(prefix="genesys-eval-"))
        taskset = prepare(tasks, where, blimp_dir=blimp_dir, pairs=pairs, seed=seed)
        return run_taskset(lm, taskset, limit=limit, seed=seed, log_samples=log_samples)
