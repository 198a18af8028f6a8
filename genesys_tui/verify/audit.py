"""The coordinator's own scoring of a walled verify job (issue 21, section 2).

A design trains inside a cell (``genesys_tui.wall``), and everything computed there is computed
next to the design's code, which could have patched the functions that compute it. That cell
therefore scores nothing, and it cannot read what the design is scored on: the held-out split
and the tasks' text are hidden from it (``evolve.jobs.verify_host``), so a design cannot train
on them either. It leaves the trained model exported as a graph of ATen operations
(``verify.graph``), and a second cell that never imports the design's code runs that graph
(``verify.graph_audit``):

1. It scores every held-out window the trainer would have scored (``heldout_windows``): the
   summed negative log-likelihood of each (log-softmax in float64). Bits per byte are computed
   here, from those losses and the bytes the targets stand for (read from the token cache by
   this process) (``Auditor.bpb``).
2. It probes the graph's causality on a few windows drawn from the operating system's
   randomness (tokens from a position on replaced by random ones; the logits before it must
   not move) and counts the graph's tensors. The verdicts (``judge_graph``) are made here: a
   graph that is not causal, or whose non-embedding parameters exceed the rung's budget, fails
   the result.
3. It scores the rung's lm-eval tasks on the graph, and the coordinator computes the rung
   score from those accuracies and the audited bits per byte (``evolve.jobs._scored``).

No figure of a walled verification's result comes from the design's process but the training
curve, the tokens it trained on and its timings; what that process did to its own copy of torch
reaches none of them.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np

from genesys_tui.ladder import SIZE_TOLERANCE, Rung

#: The scratch subdirectory a verify cell leaves its trained model's graph in.
GRAPH_DIR = "graph"
#: Held-out windows whose causality the auditor probes.
PROBED = 4
#: Random causality probes per drawn window, beside those at the edges of 64, 128, 256 and 512.
RANDOM_PROBES = 4
#: A probe's logits before its position may move by this share of the largest logit (the
#: checker's float32 tolerance).
CAUSAL_TOL = 1e-5


class AuditFailed(Exception):
    """A cell's claim does not match the auditor's own computation."""


def heldout_windows(n_tokens: int, micro: int, context: int, eval_tokens: int
                    ) -> list[tuple[int, int]]:  # fmt: skip
    """(start, length) of the held-out windows the trainer scores (``metrics.first_windows``
    over ``batches.eval_batches``): whole windows of ``context`` targets from the start of the
    stream, in order, while they fit in ``eval_tokens`` (at least one), then, if the budget
    remains, the shorter tail."""
    n_targets = n_tokens - 1
    full = n_targets // context
    out: list[tuple[int, int]] = []
    budget, scored = eval_tokens, False
    for first in range(0, full, micro):
        batch = min(micro, full - first)
        rows = min(batch, max(budget // context, 0 if scored else 1))
        if rows == 0:
            return out
        out += [((first + i) * context, context) for i in range(rows)]
        budget -= rows * context
        scored = True
    rest = n_targets - full * context
    if rest:
        rows = min(1, max(budget // rest, 0 if scored else 1))
        if rows:
            out.append((full * context, rest))
    return out


@dataclass
class Auditor:
    """One audit: the held-out windows scored, and those whose causality is probed (drawn from
    the operating system's randomness)."""

    windows: list[tuple[int, int]]
    probed: list[int]

    @classmethod
    def for_rung(cls, stream_len: int, rung: Rung) -> Auditor:
        windows = heldout_windows(stream_len, rung.micro, rung.context_length, rung.eval_tokens)
        rng = random.SystemRandom()
        return cls(windows, sorted(rng.sample(range(len(windows)), min(PROBED, len(windows)))))

    def bpb(self, losses: object, stream: np.ndarray, token_bytes: np.ndarray) -> float:
        """Bits per byte over all windows, from the auditor cell's summed loss of each;
        AuditFailed where the losses do not read."""
        if not isinstance(losses, list) or len(losses) != len(self.windows):
            got = len(losses) if isinstance(losses, list) else 0
            raise AuditFailed(f"the auditor scored {got} of {len(self.windows)} held-out windows")
        if not all(_finite(x) and x >= 0 for x in losses):
            raise AuditFailed("the auditor's held-out losses are not all finite")
        n_bytes = sum(int(token_bytes[stream[s + 1 : s + n + 1]].sum()) for s, n in self.windows)
        return math.fsum(float(x) for x in losses) / (math.log(2) * max(n_bytes, 1))


def plan_probes(windows: list[int], context: int) -> list[list[int]]:
    """[window, position, seed] for each causality probe of the drawn ``windows``: the first
    and last positions, both sides of each chunk or window size up to 512, and RANDOM_PROBES
    drawn from the operating system's randomness."""
    rng = random.SystemRandom()
    edges = {1, context - 1} | {b + k for b in (64, 128, 256, 512) for k in (-1, 0, 1)}
    out = []
    for w in windows:
        fixed = {p for p in edges if 0 < p < context}
        drawn = {rng.randrange(1, context) for _ in range(RANDOM_PROBES)} if context > 1 else set()
        out += [[w, p, rng.randrange(2**31)] for p in sorted(fixed | drawn)]
    return out


def judge_graph(evidence: dict[str, object], rung: Rung, probes: int) -> None:
    """AuditFailed where the auditor cell's figures show a graph that is not causal, or whose
    parameters exceed the rung's budget (``ladder.size_design``'s tolerance around the GPT
    reference), or that carries more buffers and constants than the budget's parameters."""
    if evidence.get("refused"):
        raise AuditFailed(f"the trained model's graph: {evidence['refused']}")
    changes = evidence.get("probes")
    if not isinstance(changes, list) or len(changes) != probes:
        raise AuditFailed(f"the auditor ran {len(changes or [])} of {probes} causality probes")
    for _w, position, change, scale in changes:
        if not change <= CAUSAL_TOL * scale:  # NaN counts as a change
            raise AuditFailed(
                f"the trained model is not causal: its logits before position {position} change "
                f"by {change:.2e} when only tokens from {position} on change"
            )
    vocab = int((evidence.get("shape") or [0])[0])
    reference, params = int(evidence["reference"]), int(evidence["parameters"])
    own = params - int(evidence["embedding"])
    if own > reference * (1 + SIZE_TOLERANCE):
        raise AuditFailed(
            f"the trained model has {own:,} non-embedding parameters, over the rung's budget of "
            f"{reference:,} + {SIZE_TOLERANCE:.0%} (parameters made after the model was built?)"
        )
    whole = reference + vocab * rung.d_model
    if int(evidence["state"]) > whole:
        raise AuditFailed(
            f"the trained model carries {int(evidence['state']):,} buffer and constant values, "
            f"more than the rung's {whole:,} parameters (data stored in the model?)"
        )


def window_nll(logits: np.ndarray, targets: np.ndarray) -> float:
    """Summed cross-entropy (nats) of ``logits`` (T, V) against ``targets`` (T,), float64."""
    x = logits.astype(np.float64)
    top = x.max(axis=1, keepdims=True)
    log_z = top[:, 0] + np.log(np.exp(x - top).sum(axis=1))
    picked = x[np.arange(len(targets)), targets.astype(np.int64)]
    return float((log_z - picked).sum())


def _finite(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
