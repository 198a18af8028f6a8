"""The cell side of a walled verify job (``evolve.jobs.verify_host`` is the trusted side).

``verify_in_cell`` runs inside a bubblewrap cell: it writes the design's files into the cell's
scratch directory, trains the design there (``verify.job.verify_job``, the checkpoint in scratch
too) and exports the trained model as a graph (``verify.graph``) into the scratch directory's
``graph/``, which the coordinator takes once the cell is dead. It evaluates nothing: the cell
cannot read the held-out split nor the tasks' text (``evolve.jobs.verify_host`` hides them), so
the design cannot train on what it is scored on. An auditor cell that runs no design code scores
the graph (``verify.audit``, ``verify.graph_audit``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from genesys_tui.verify.audit import GRAPH_DIR


def verify_in_cell(
    channel: Any,
    files: dict[str, str],
    rung: str,
    ladder: str = "cpu",
    seed: int = 0,
    pairs: int = 0,
    tasks_min_tokens: int = 0,
    threads: int = 0,
) -> dict[str, Any]:
    from genesys_tui.verify.job import verify_job

    if threads:
        torch.set_num_threads(threads)
    scratch = Path.cwd()
    design_dir = scratch / "design"
    for rel, text in files.items():
        target = (design_dir / rel).resolve()
        if design_dir.resolve() not in target.parents:
            raise ValueError(f"design file {rel!r} lies outside the design directory")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    run_dir = scratch / "run"
    result = verify_job(str(design_dir), rung, ladder=ladder, seed=seed, pairs=pairs,
                        tasks_min_tokens=tasks_min_tokens, progress=channel.emit,
                        # the auditor scores the tasks and the held-out text on the graph
                        evaluate_tasks=False, evaluate_heldout=False,
                        out_dir=str(run_dir))  # fmt: skip
    if not result.get("ok"):
        return {"result": result}
    return {"result": result, **_export(scratch / GRAPH_DIR, run_dir, rung, ladder)}


#: The most logits (batch x context x vocabulary) one call of an exported graph may make.
GRAPH_LOGITS = 1 << 26


def graph_batch(context: int, vocab: int) -> int:
    """The batch a graph is exported at: lm-eval's batch (32) where its logits fit in
    GRAPH_LOGITS, fewer (at least 1) for long contexts and large vocabularies."""
    return max(1, min(32, GRAPH_LOGITS // max(1, context * vocab)))


def _export(graph_dir: Path, run_dir: Path, rung: str, ladder: str) -> dict[str, Any]:
    """The trained model (the checkpoint's weights) exported as a graph into ``graph_dir``."""
    from genesys_tui.ladder import load_ladder
    from genesys_tui.verify.checkpoint import load_checkpoint
    from genesys_tui.verify.graph import GraphError, export_graph

    the_rung = load_ladder(ladder).rung(rung)
    model, _ = load_checkpoint(run_dir / "checkpoint.pt", device="cpu")
    t0 = time.perf_counter()
    try:
        export_graph(model, the_rung.context_length, graph_dir,
                     batch=graph_batch(the_rung.context_length, model.config.vocab_size))
    except GraphError as exc:
        return {"graph_error": str(exc)}
    return {"export_seconds": round(time.perf_counter() - t0, 3)}
