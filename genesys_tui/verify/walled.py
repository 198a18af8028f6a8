"""The cell side of a walled verify job (``evolve.jobs.verify_host`` is the trusted side).

``verify_in_cell`` runs inside a bubblewrap cell: it writes the design's files into the cell's
scratch directory, trains and evaluates it there (``verify.job.verify_job``, the checkpoint in
scratch too), then gives the auditor its evidence: the summed loss of each held-out window the
auditor named, and the trained model exported as a graph (``verify.graph``) in the scratch
directory's ``graph/``, which the coordinator takes once the cell is dead. The auditor draws the
windows it checks only then, and runs them through the graph in a cell of its own
(``verify.audit``, ``verify.graph_audit``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from genesys_tui.verify.audit import GRAPH_DIR


def verify_in_cell(
    channel: Any,
    files: dict[str, str],
    rung: str,
    windows: list[list[int]],
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
                        evaluate_tasks=False,  # the auditor scores them on the graph
                        out_dir=str(run_dir))  # fmt: skip
    if not result.get("ok"):
        return {"result": result}
    return {"result": result, **_evidence(scratch / GRAPH_DIR, run_dir, rung, ladder, windows)}


#: The most logits (batch x context x vocabulary) one call of an exported graph may make.
GRAPH_LOGITS = 1 << 26


def graph_batch(context: int, vocab: int) -> int:
    """The batch a graph is exported at: lm-eval's batch (32) where its logits fit in
    GRAPH_LOGITS, fewer (at least 1) for long contexts and large vocabularies."""
    return max(1, min(32, GRAPH_LOGITS // max(1, context * vocab)))


def _evidence(graph_dir: Path, run_dir: Path, rung: str, ladder: str, windows: list[list[int]]
              ) -> dict[str, Any]:  # fmt: skip
    """Each named window's summed loss, from the checkpoint's weights; the model's graph."""
    from genesys_tui.ladder import load_ladder
    from genesys_tui.verify.checkpoint import load_checkpoint
    from genesys_tui.verify.graph import GraphError, export_graph
    from genesys_tui.verify.token_cache import load_tokens

    the_rung = load_ladder(ladder).rung(rung)
    model, _ = load_checkpoint(run_dir / "checkpoint.pt", device="cpu")
    stream = load_tokens("validation", the_rung.tokenizer).tokens
    claims = []
    with torch.no_grad():
        for start, length in windows:
            ids = torch.from_numpy(stream[start : start + length + 1].astype("int64"))[None]
            logits = model(ids[:, :-1])[0].float()
            claims.append(float(F.cross_entropy(logits, ids[0, 1:], reduction="sum").double()))
    t0 = time.perf_counter()
    try:
        export_graph(model, the_rung.context_length, graph_dir,
                     batch=graph_batch(the_rung.context_length, model.config.vocab_size))
    except GraphError as exc:
        return {"claims": claims, "graph_error": str(exc)}
    return {"claims": claims, "export_seconds": round(time.perf_counter() - t0, 3)}
