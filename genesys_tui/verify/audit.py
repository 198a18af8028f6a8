"""The coordinator's own check of a score a walled verify job reports (issue 21, section 2).

A design trains inside a cell (``genesys_tui.wall``), and everything computed there (the loss,
the bits per byte) is computed next to the design's code, which could have patched the
functions that compute it. So the trusted side, which runs no design code and imports no torch,
audits the figure that ranks designs:

1. It names the held-out windows (``heldout_windows``: the same whole windows the trainer
   scores) and the cell reports the summed negative log-likelihood of each.
2. Only then does the auditor draw, from the operating system's randomness, a few windows the
   cell must send the raw logits of. The cell cannot know in advance which claims are checked.
3. The auditor computes those windows' losses itself (log-softmax in float64, numpy) and
   rejects the result when a claim differs; bits per byte are then computed here, from the
   claims and the bytes the targets stand for (read from the token cache by this process), and
   must match what the cell reported.

The logits of step 2 do not come from the design's cell: it exports the trained model as a graph
of ATen operations (``verify.graph``) when it makes its claims, and a second cell that never
imports the design's code runs that graph (``verify.graph_audit``). The same cell probes the
graph's causality on the drawn windows (tokens from a position on replaced by random ones; the
logits before it must not move) and counts its tensors. The verdicts (``judge_graph``) are made
here: a claim that the graph's logits do not give, a graph that is not causal, or one whose
non-embedding parameters exceed the rung's budget fails the result. What the design's process
did to its own copy of torch does not reach any of these figures.

The auditor's cell also scores the rung's lm-eval tasks on the graph, and the coordinator
computes the rung score from those accuracies and the audited bits per byte
(``evolve.jobs._scored``), and takes the parameter count from the graph: no figure of a walled
verification's result comes from the design's process but the training curve, the tokens it
trained on and its timings.
"""

from __future__ import annotations

import base64
import math
import random
from dataclasses import dataclass

import numpy as np

from genesys_tui.ladder import SIZE_TOLERANCE, Rung

#: The scratch subdirectory a verify cell leaves its trained model's graph in.
GRAPH_DIR = "graph"
#: Windows whose logits the auditor checks.
CHALLENGES = 4
#: A claimed window loss may differ from the auditor's by this many nats (float32 logits)...
ABS_TOL = 2e-3
#: ...plus this share of it.
REL_TOL = 1e-5
#: The cell's bits per byte and the auditor's may differ by this share.
BPB_REL_TOL = 1e-4
#: Random causality probes per drawn window, beside those at the edges of 64, 128, 256 and 512.
RANDOM_PROBES = 4
#: A probe's logits before its position may move by this share of the largest logit (the
#: checker's float32 tolerance).
CAUSAL_TOL = 1e-5


class AuditFailed(Exception):
    """A cell's claim does not match the auditor's own computation."""


def heldout_windows(n_tokens: int, micro: int, context: int, eval_tokens: int
                    ) -> list[tuple[int, int]]:  # fmt: skip
    """(start, length) of the held-out windows the trainer scores (``train._first_windows``
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
    """One audit: the windows, the claims once made, and the challenge drawn after them."""

    windows: list[tuple[int, int]]
    challenged: list[int] | None = None
    claims: list[float] | None = None

    @classmethod
    def for_rung(cls, stream_len: int, rung: Rung) -> Auditor:
        return cls(heldout_windows(stream_len, rung.micro, rung.context_length, rung.eval_tokens))

    def challenge(self, claims: list[float]) -> list[int]:
        """Take the cell's per-window claims; draw the windows it must show logits for."""
        if self.claims is not None:
            raise AuditFailed("the cell made its claims twice")
        if len(claims) != len(self.windows) or not all(_finite(c) for c in claims):
            raise AuditFailed(
                f"the cell claimed {len(claims)} window losses for {len(self.windows)} windows"
            )
        self.claims = [float(c) for c in claims]
        rng = random.SystemRandom()
        self.challenged = sorted(rng.sample(range(len(self.windows)), min(CHALLENGES, len(claims))))
        return self.challenged

    def judge(self, logits: dict[str, str], shape: list[int], stream: np.ndarray,
              token_bytes: np.ndarray) -> float:  # fmt: skip
        """Check the challenged windows' logits against the claims; return the audited bits
        per byte of all windows. AuditFailed names the first window that does not match."""
        if self.claims is None or self.challenged is None:
            raise AuditFailed("the cell sent logits before its claims")
        for i in self.challenged:
            start, length = self.windows[i]
            raw = logits.get(str(i))
            if raw is None:
                raise AuditFailed(f"the cell did not send the logits of held-out window {i}")
            ref = window_nll(_decode(raw, length, shape), stream[start + 1 : start + length + 1])
            if not abs(self.claims[i] - ref) <= ABS_TOL + REL_TOL * abs(ref):
                raise AuditFailed(
                    f"held-out window {i}: the cell claimed a loss of {self.claims[i]:.6f} nats, "
                    f"its own logits give {ref:.6f}: the loss was not computed from the model's "
                    "outputs (a patched loss function?)"
                )
        n_bytes = sum(int(token_bytes[stream[s + 1 : s + n + 1]].sum()) for s, n in self.windows)
        return sum(self.claims) / (math.log(2) * max(n_bytes, 1))


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


def check_bpb(reported: float | None, audited: float) -> None:
    """AuditFailed when the cell's bits per byte is not the auditor's."""
    if reported is None or not _finite(reported):
        raise AuditFailed("the cell reported no bits per byte")
    if abs(reported - audited) > BPB_REL_TOL * abs(audited):
        raise AuditFailed(
            f"the cell reported {reported:.6f} bits per byte; its own per-window losses give "
            f"{audited:.6f}"
        )


def encode_logits(array: np.ndarray) -> str:
    """float32 logits as base64 (the cell's side)."""
    return base64.b64encode(np.ascontiguousarray(array, dtype=np.float32).tobytes()).decode()


def _decode(raw: str, length: int, shape: list[int]) -> np.ndarray:
    vocab = int(shape[-1]) if shape else 0
    try:
        data = np.frombuffer(base64.b64decode(raw, validate=True), dtype=np.float32)
    except (ValueError, TypeError) as exc:
        raise AuditFailed(f"the cell's logits do not decode: {exc}") from None
    if vocab <= 0 or data.size != length * vocab:
        raise AuditFailed(f"the cell's logits have {data.size} values, not {length} x {vocab}")
    return data.reshape(length, vocab)


def _finite(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
