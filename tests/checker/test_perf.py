"""The speed check judges work, not the machine's load: time a design spends waiting for a core
does not count, and the verdict on a design holds while other processes compete for the CPU."""

from __future__ import annotations

import json
import multiprocessing as mp
import shutil
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from genesys_tui.checker import RUNTIME_STAGES, CheckConfig, check_design
from genesys_tui.checker.perf import step_seconds
from genesys_tui.config import ModelConfig
from genesys_tui.design import load_design
from genesys_tui.resources import library_dir
from genesys_tui.units.lm import build_lm

ONLY_SPEED = CheckConfig(skip=tuple(s for s in RUNTIME_STAGES if s not in ("build", "speed")))


class _Descheduled(nn.Module):
    """The reference model, but every forward waits 100 ms without using the CPU, as a step does
    when the scheduler gives its core to another process."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        time.sleep(0.1)
        return self.inner(ids)


def test_step_time_counts_cpu_work_not_time_spent_waiting_for_a_core() -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the checker's child (CheckConfig.threads)
    try:
        _compare_with_a_descheduled_twin()
    finally:
        torch.set_num_threads(before)


def _compare_with_a_descheduled_twin() -> None:
    torch.manual_seed(0)
    # The checker's timed size (CheckConfig.bench_*): a step of tens of milliseconds, so the
    # cold caches a descheduled step wakes up to are a small share of it, as in a real check.
    size = ModelConfig(d_model=128, n_layers=2, vocab_size=256, context_length=128)
    design = load_design("gpt")
    reference, waiting = build_lm(design, size, seed=0), build_lm(design, size, seed=0)
    ids = torch.randint(0, 256, (4, 128))
    targets = torch.randint(0, 256, (4, 128))
    mine, theirs = step_seconds(_Descheduled(waiting), reference, ids, targets, 5, decisive=6.0)
    # Wall time adds the 100 ms of every step to the twin alone: a ratio of 3 or more.
    assert mine / theirs < 2.0, (mine, theirs)


def _spin(stop: object) -> None:
    x = 0
    while not stop.is_set():  # type: ignore[attr-defined]
        for i in range(100_000):
            x ^= i


def _layernorm_gpt(tmp_path: Path) -> Path:
    """library/gpt with both RMSNorms swapped for LayerNorm (rejected as '3.56x' under load)."""
    out = tmp_path / "gpt-layernorm"
    shutil.copytree(library_dir() / "gpt", out)
    shutil.copy(library_dir() / "rwkv7" / "units" / "layer_norm.py", out / "units")
    spec = json.loads((out / "design.json").read_text())
    for unit in ("attn_norm", "mlp_norm"):
        spec["units"][unit] = {"class": "LayerNorm", "file": "units/layer_norm.py", "role": "norm"}
    (out / "design.json").write_text(json.dumps(spec))
    return out


@pytest.mark.slow
def test_the_speed_verdict_holds_while_other_processes_load_the_cpu(tmp_path: Path) -> None:
    designs = ["mamba2", str(_layernorm_gpt(tmp_path))]
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    hogs = [ctx.Process(target=_spin, args=(stop,), daemon=True) for _ in range(2)]
    for p in hogs:
        p.start()
    try:
        reports = [check_design(d, config=ONLY_SPEED) for _ in range(3) for d in designs]
    finally:
        stop.set()
        for p in hogs:
            p.join(timeout=5)
    for report in reports:
        assert report.ok, report.format_for_agent()
        assert 0 < float(report.figures["speed_ratio"]) < ONLY_SPEED.speed_error_ratio
