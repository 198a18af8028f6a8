"""The auditor's cell: runs a trained model's graph (``verify.graph``) on what the coordinator
asks, in a process that imports none of the design's code (issue 21, section 2).

The coordinator (``evolve.jobs.verify_host``) hands it the held-out windows to score, the
causality probes it planned, and the lm-eval tasks of the rung. The cell reads the held-out
split from the token cache (the design's cell cannot) and answers with figures computed by
Genesys's own code on the graph: each window's summed loss, each probe's largest change, the
graph's tensor counts, the rung's reference size and the tasks' accuracies. The coordinator
turns them into verdicts and the score (``verify.audit``); none of them comes from the design's
process.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import torch
from torch import nn

from genesys_tui.ladder import Rung
from genesys_tui.verify.audit import window_nll
from genesys_tui.verify.graph import Graph, GraphError, load_graph


def audit_in_cell(
    channel: Any,
    graph_dir: str,
    windows: list[list[int]],
    probes: list[list[int]],
    ladder: str,
    rung: str,
    tasks: list[str] | None = None,
    pairs: int = 0,
    seed: int = 0,
    threads: int = 1,
    device: str = "cpu",
) -> dict[str, Any]:
    """``windows``: [start, length] of each held-out window (``length`` targets, at most the
    graph's context) in the rung's validation split; ``probes``: [window, position, seed]:
    tokens from ``position`` on are replaced by random ones (``seed``), and the largest change
    of the logits before ``position`` is reported.
    ``tasks`` are evaluated on the graph only when every probe shows it causal (right padding,
    which the evaluation uses, is neutral only then). ``device``: where the graph runs (the
    verification's GPU, when it had one)."""
    from genesys_tui.ladder import load_ladder
    from genesys_tui.verify.audit import CAUSAL_TOL
    from genesys_tui.verify.numerics import numerics
    from genesys_tui.verify.token_cache import load_tokens

    torch.set_num_threads(max(1, threads))
    the_rung = load_ladder(ladder).rung(rung)
    stream = load_tokens("validation", the_rung.tokenizer).tokens
    try:
        graph = load_graph(graph_dir, device)
        out = _run_windows(graph, stream, windows, probes)
        out.update(_counts(graph, out["shape"][0], the_rung), numerics=numerics(device))
        causal = all(change <= CAUSAL_TOL * scale for *_, change, scale in out["probes"])
        if tasks and causal:
            out.update(_tasks(graph, out["shape"][0], tasks, the_rung.tokenizer, pairs, seed))
        return out
    except GraphError as exc:
        return {"refused": str(exc)}


def _run_windows(graph: Graph, stream: Any, windows: list[list[int]], probes: list[list[int]]
                 ) -> dict[str, Any]:  # fmt: skip
    """Each window's summed loss, in batches of the graph's size (the logits of the probed
    windows kept), then each probe: its window with the tokens from its position on replaced."""
    context = graph.context
    probed = {w for w, _, _ in probes}
    losses: list[float] = []
    kept: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # probed window -> (input, logits)
    vocab = 0
    for first in range(0, len(windows), graph.batch):
        chunk = windows[first : first + graph.batch]
        inputs = torch.zeros(len(chunk), context, dtype=torch.long)
        targets = []
        for k, (start, length) in enumerate(chunk):
            if not 0 < length <= context or start < 0 or start + length >= len(stream):
                raise GraphError(f"window {first + k} ({start}, {length}) does not fit")
            ids = torch.from_numpy(stream[start : start + length + 1].astype("int64"))
            inputs[k, :length] = ids[:-1]
            targets.append(ids[1:])
        logits = graph(inputs).float().cpu()  # (batch, context, V)
        vocab = int(logits.shape[-1])
        for k, (_, length) in enumerate(chunk):
            losses.append(window_nll(logits[k, :length].numpy(), targets[k].numpy()))
            if first + k in probed:
                kept[first + k] = inputs[k], logits[k]
    plan = [(w, p, s) for w, p, s in probes if w in kept and 0 < p < context]
    changed = []
    for w, position, seed in plan:
        row = kept[w][0].clone()
        gen = torch.Generator().manual_seed(int(seed))
        row[position:] = torch.randint(0, vocab, (context - position,), generator=gen)
        changed.append(row)
    after = _batched(graph, torch.stack(changed)).float().cpu() if changed else torch.empty(0)
    out_probes = []
    for k, (w, position, _) in enumerate(plan):
        base = kept[w][1]
        change = float((after[k, :position] - base[:position]).abs().max())
        scale = max(1.0, float(base.abs().max()))
        out_probes.append([w, position, change if change == change else float("inf"), scale])
    return {"losses": losses, "shape": [vocab], "probes": out_probes, "context": context}


def _batched(graph: Graph, rows: torch.Tensor) -> torch.Tensor:
    return torch.cat([graph(rows[i : i + graph.batch]) for i in range(0, len(rows), graph.batch)])


def _counts(graph: Graph, vocab: int, rung: Rung) -> dict[str, Any]:
    from genesys_tui.ladder import reference_params

    return {
        "parameters": graph.count("parameter"), "embedding": graph.embedding_numel(vocab),
        "state": graph.count("buffer") + graph.count("constant_tensor"),
        "reference": reference_params(rung, vocab),  # the GPT reference, non-embedding
    }  # fmt: skip


class GraphModel(nn.Module):
    """A graph behind the model interface ``GenesysLM`` scores: token ids (B, T) -> logits."""

    def __init__(self, graph: Graph, vocab: int) -> None:
        super().__init__()
        self.graph = graph
        self.config = SimpleNamespace(context_length=graph.context, vocab_size=vocab)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return _batched(self.graph, idx)


def _tasks(graph: Graph, vocab: int, tasks: list[str], tokenizer: str, pairs: int, seed: int
           ) -> dict[str, Any]:  # fmt: skip
    """The tasks' accuracies on the graph, and the chance level of each (for the score)."""
    from genesys_tui.verify.evals.evaluate import evaluate
    from genesys_tui.verify.evals.lm_model import GenesysLM
    from genesys_tui.verify.evals.tasks import CHANCE

    lm = GenesysLM(model=GraphModel(graph, vocab), tokenizer=tokenizer, device=str(graph.device))
    report = evaluate(lm, tuple(tasks), pairs=pairs, seed=seed)
    return {"evals": dict(report.accuracy), "chance": dict(CHANCE),
            "eval_seconds": round(report.seconds, 2)}  # fmt: skip
