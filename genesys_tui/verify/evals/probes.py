"""Synthetic capability probes: the cheapest rung. A tiny model of the design is trained from
scratch on the probe for a few hundred steps, then scored through lm-eval.

- ``mqar``: multi-query associative recall (Arora et al. 2023, Zoology). The sequence lists
  key-value pairs, then asks for some keys again; the model must answer each with its value.
  Attention solves it by looking back; a fixed-size recurrent state must store every pair.
- ``selective_copy``: selective copying (Gu and Dao 2023; Mechanistic Architecture Design). A few
  data tokens are scattered among noise; after a separator the model must repeat them in order.

Sequences are strings over single bytes, read with the ``bytes`` tokenizer (one character, one
token), so the same documents serve training and lm-eval. A probe document is scored right when
greedy decoding gives its whole answer (lm-eval's loglikelihood ``acc``). Chance is
``1 / values ** answer_length``.
"""

from __future__ import annotations

import math
import random
import string
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from genesys_tui.config import ModelConfig
from genesys_tui.design import Design
from genesys_tui.errors import ConfigError, VerifyError
from genesys_tui.verify.evals.tasks import greedy_task, write_task

#: A document: the text before the answer and the answer.
Doc = tuple[str, str]


@dataclass(frozen=True)
class ProbeSettings:
    """Size and budget of a probe run. Defaults take about half a minute for GPT on 2 cores."""

    d_model: int = 64  # width of the tiny model
    n_layers: int = 2  # its depth
    steps: int = 300  # optimiser steps
    batch_size: int = 64  # sequences per step
    lr: float = 3e-3  # peak learning rate (linear warmup over a tenth, cosine to a tenth)
    test_docs: int = 200  # documents scored through lm-eval
    seed: int = 0  # data, initialisation and order

    def __post_init__(self) -> None:
        for name in ("d_model", "n_layers", "steps", "batch_size", "test_docs"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"probes.{name} must be a positive integer, got {v!r}")
        if not isinstance(self.lr, (int, float)) or self.lr <= 0:
            raise ConfigError(f"probes.lr must be a positive number, got {self.lr!r}")


@dataclass(frozen=True)
class Probe:
    """A probe task: how to draw one training sequence's documents, and its chance accuracy."""

    name: str
    sample: Callable[[random.Random], list[Doc]]  # docs sharing one sequence, in order
    context_length: int  # longest sequence it produces
    chance: float


# ----------------------------------------------------------------------------------- mqar

KEYS = string.ascii_lowercase  # 26 keys
VALUES = string.ascii_uppercase  # 26 values


def mqar_docs(rng: random.Random, pairs: int = 4, queries: int = 4) -> list[Doc]:
    """One MQAR sequence as its query documents: "aKbQcZdW" then "bQ", "aK", ...

    Each document's context is the sequence up to and including a queried key (earlier queries
    answered), its answer the key's value.
    """
    keys = rng.sample(KEYS, pairs)
    values = [rng.choice(VALUES) for _ in keys]
    text = "".join(k + v for k, v in zip(keys, values, strict=True))
    docs = []
    for i in rng.sample(range(pairs), queries):
        docs.append((text + keys[i], values[i]))
        text += keys[i] + values[i]
    return docs


# ------------------------------------------------------------------------- selective copy

NOISE, SEPARATOR = ".", "|"
DATA = string.ascii_lowercase[:16]


def selective_copy_docs(rng: random.Random, length: int = 24, n_data: int = 4) -> list[Doc]:
    """One selective-copying document: "..c..a....f.b...|" -> "cafb"."""
    cells = [NOISE] * length
    data = [rng.choice(DATA) for _ in range(n_data)]
    for pos, tok in zip(sorted(rng.sample(range(length), n_data)), data, strict=True):
        cells[pos] = tok
    return [("".join(cells) + SEPARATOR, "".join(data))]


PROBES: dict[str, Probe] = {
    "mqar": Probe("mqar", mqar_docs, 4 * 2 + 4 * 2, 1 / len(VALUES)),
    "selective_copy": Probe("selective_copy", selective_copy_docs, 24 + 1 + 4, 1 / len(DATA) ** 4),
}


def probe(name: str) -> Probe:
    if name not in PROBES:
        raise VerifyError(f"unknown probe {name!r}; known: {', '.join(PROBES)}")
    return PROBES[name]


# --------------------------------------------------------------------------------- training


def _batch(p: Probe, rng: random.Random, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs (n, T) and targets (n, T) with -100 where nothing is asked (not scored)."""
    T = p.context_length
    x = torch.zeros(n, T, dtype=torch.long)
    y = torch.full((n, T), -100, dtype=torch.long)
    for row in range(n):
        docs = p.sample(rng)
        context, answer = docs[-1]
        ids = list((context + answer).encode("ascii"))
        x[row, : len(ids) - 1] = torch.tensor(ids[:-1])
        for ctx, ans in docs:  # each answer's tokens are predicted from the positions before
            start = len(ctx)
            for j in range(len(ans)):
                y[row, start + j - 1] = ids[start + j]
    return x, y


def _lr(step: int, steps: int, peak: float) -> float:
    warm = max(1, steps // 10)
    if step < warm:
        return peak * (step + 1) / warm
    t = (step - warm) / max(1, steps - warm)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))


def train_probe(
    design: Design, name: str, settings: ProbeSettings | None = None
) -> tuple[torch.nn.Module, float]:
    """Train a tiny model of ``design`` on probe ``name`` from scratch; (model, final loss)."""
    from genesys_tui.units.lm import build_lm

    s = settings or ProbeSettings()
    p = probe(name)
    config = ModelConfig(
        d_model=s.d_model, n_layers=s.n_layers, vocab_size=257, context_length=p.context_length
    )
    model = build_lm(design, config, seed=s.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=s.lr, weight_decay=0.0)
    rng = random.Random(f"genesys-probe-train:{s.seed}:{name}")
    model.train()
    loss = torch.tensor(float("nan"))
    for step in range(s.steps):
        for group in opt.param_groups:
            group["lr"] = _lr(step, s.steps, s.lr)
        x, y = _batch(p, rng, s.batch_size)
        logits = model(x)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten(), ignore_index=-100)
        if not torch.isfinite(loss):
            raise VerifyError(f"probe {name}: the loss became {loss.item()} at step {step}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return model.eval(), float(loss.detach())


def heldout_docs(name: str, n: int, seed: int = 0) -> list[Doc]:
    """``n`` held-out documents of probe ``name`` (a generator seeded apart from training's)."""
    rng = random.Random(f"genesys-probe-test:{seed}:{name}")
    docs: list[Doc] = []
    while len(docs) < n:
        docs.extend(probe(name).sample(rng))
    return docs[:n]


@dataclass(frozen=True)
class ProbeResult:
    name: str
    accuracy: float  # share of test documents answered exactly by greedy decoding
    chance: float
    loss: float  # final training loss
    seconds: float  # training and scoring

    def to_dict(self) -> dict[str, float | str]:
        return {
            "accuracy": self.accuracy,
            "chance": self.chance,
            "loss": self.loss,
            "seconds": round(self.seconds, 2),
        }


def run_probe(design: Design, name: str, settings: ProbeSettings | None = None) -> ProbeResult:
    """Train on probe ``name`` and score the trained model through lm-eval."""
    from genesys_tui.verify.evals.evaluate import run_taskset
    from genesys_tui.verify.evals.lm_model import GenesysLM
    from genesys_tui.verify.evals.tasks import TaskSet

    s = settings or ProbeSettings()
    t0 = time.perf_counter()
    model, loss = train_probe(design, name, s)
    lm = GenesysLM(model=model, tokenizer="bytes", device="cpu", batch_size=64)
    task = f"probe_{name}"
    with tempfile.TemporaryDirectory(prefix="genesys-probe-") as tmp:
        d = Path(tmp)
        rows = [{"context": c, "target": a} for c, a in heldout_docs(name, s.test_docs, s.seed)]
        write_task(d, greedy_task(task, d / f"{task}.jsonl"), rows)
        report = run_taskset(lm, TaskSet((task,), d, {}), seed=s.seed)
    return ProbeResult(
        name, report.accuracy[task], probe(name).chance, loss, time.perf_counter() - t0
    )
