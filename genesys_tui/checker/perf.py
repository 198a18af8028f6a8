"""Time and memory of one training step against the reference design at the same size.

Time: forward + backward + Adam step, in timed rounds that alternate between the design and
the reference in the same process; the median round of each counts. Rounds are timed in CPU
seconds of this process, not wall seconds: on a shared machine the scheduler takes the CPU
away for whole time slices, and in wall time that swung GPT-relative ratios by 3x and more
between checks of the same design (a library seed and an RMSNorm -> LayerNorm swap were
rejected as slow). The checker's child runs torch on one thread, so its CPU time is the step's
work. A ratio above the error limit is measured once more before it rejects; the lower of the
two counts, since load only ever adds time.

Memory: what a training step must hold, counted exactly rather than sampled: the bytes of every
distinct storage autograd saves for the backward pass (the activations; parameters excluded),
plus four times the parameter bytes (weights, gradients and AdamW's two moments). Peak RSS and
tracemalloc cannot tell torch's allocations from the interpreter's and vary from run to run;
this count is deterministic, so a threshold on it never flickers.
"""

from __future__ import annotations

import statistics
import time

import torch
from torch import nn

from genesys_tui.checker.context import Adam, RuntimeContext, cross_entropy
from genesys_tui.checker.report import ERROR, WARNING, Finding
from genesys_tui.config import ModelConfig


def step_memory(model: nn.Module, ids: torch.Tensor, targets: torch.Tensor) -> int:
    """Bytes a training step of ``model`` on ``ids`` holds (see the module docstring).

    The forward and backward it runs also warm the model up for ``step_seconds``.
    """
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        try:
            storage = t.untyped_storage()
        except (RuntimeError, NotImplementedError):  # tensor subclasses without storage
            return t
        key = storage.data_ptr()
        if key not in params and key not in saved:
            saved[key] = storage.nbytes()
        return t

    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = cross_entropy(model(ids), targets)
    loss.backward()
    model.zero_grad(set_to_none=True)
    param_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    return sum(saved.values()) + 4 * param_bytes


def step_seconds(
    design: nn.Module,
    reference: nn.Module,
    ids: torch.Tensor,
    targets: torch.Tensor,
    rounds: int,
    decisive: float,
) -> tuple[float, float]:
    """Median CPU seconds of one training step of ``design`` and of ``reference``.

    CPU seconds of the work (this thread's, or the whole process's when torch runs more than
    one thread), so time spent waiting for a core does not count. Rounds alternate the order
    of the two. The models should be warm (one step each already, e.g. ``step_memory``). After
    two rounds, a design whose fastest step is ``decisive`` times the reference's slowest is
    plainly slow: the remaining rounds would only cost time.
    """
    models = (design, reference)
    opts = [Adam(list(m.parameters()), lr=1e-4) for m in models]
    # On one torch thread the step runs on this thread alone: its own clock leaves out the
    # process's other threads (the sandbox's watchdog, a test runner's helpers).
    clock = time.thread_time if torch.get_num_threads() == 1 else time.process_time

    def step(i: int) -> float:
        t0 = clock()
        loss = cross_entropy(models[i](ids), targets)
        loss.backward()
        opts[i].step()
        opts[i].zero_grad()
        return clock() - t0

    for m in models:
        m.train()
    times: tuple[list[float], list[float]] = ([], [])
    for r in range(rounds):
        for i in (0, 1) if r % 2 == 0 else (1, 0):
            times[i].append(step(i))
        if r >= 1 and min(times[0]) > decisive * max(times[1]):
            break
    return statistics.median(times[0]), statistics.median(times[1])


def stage_speed(ctx: RuntimeContext) -> list[Finding]:
    cfg = ctx.config
    size = ModelConfig(
        d_model=cfg.bench_d_model,
        n_layers=ctx.tiny.n_layers,
        vocab_size=ctx.tiny.vocab_size,
        context_length=cfg.bench_context_length,
    )
    design = ctx.build(config=size)
    reference = ctx.build(ctx.reference, size)
    ids, targets = ctx.batch(salt=20, batch=cfg.bench_batch_size, T=cfg.bench_context_length)
    mem = step_memory(design, ids, targets)
    mem_ref = step_memory(reference, ids, targets)
    decisive = 2 * cfg.speed_error_ratio
    step, step_ref = step_seconds(design, reference, ids, targets, cfg.bench_rounds, decisive)
    measured = 1
    if step / step_ref > cfg.speed_error_ratio:  # measure once more before rejecting
        again, again_ref = step_seconds(design, reference, ids, targets, cfg.bench_rounds, decisive)
        measured = 2
        if again / again_ref < step / step_ref:
            step, step_ref = again, again_ref
    speed_ratio, memory_ratio = step / step_ref, mem / mem_ref
    ctx.figures.update(
        step_seconds=round(step, 5), step_seconds_reference=round(step_ref, 5),
        speed_ratio=round(speed_ratio, 3), speed_measurements=measured, step_bytes=mem,
        step_bytes_reference=mem_ref, memory_ratio=round(memory_ratio, 3),
    )  # fmt: skip
    where = (
        f"(d_model={size.d_model}, n_layers={size.n_layers}, T={size.context_length}, "
        f"batch={cfg.bench_batch_size})"
    )
    out = []
    for check, ratio, warn, error, mine, theirs, hint in (
        ("speed", speed_ratio, cfg.speed_warn_ratio, cfg.speed_error_ratio,
         f"{step * 1e3:.1f} CPU ms", f"{step_ref * 1e3:.1f} CPU ms",
         "replace Python loops over time steps with a parallel or chunked form (cumsum, "
         "matmul with a masked decay matrix), fuse small ops, avoid recomputing the same "
         "tensor"),
        ("memory", memory_ratio, cfg.memory_warn_ratio, cfg.memory_error_ratio,
         f"{_mib(mem)}", f"{_mib(mem_ref)}",
         "avoid materializing (B, T, T, D) or (B, H, T, N, P) tensors: contract before "
         "expanding, work in chunks, and keep states (B, H, N, P) rather than one per step"),
    ):  # fmt: skip
        if ratio > warn:
            severity = ERROR if ratio > error else WARNING
            limit = error if severity == ERROR else warn
            out.append(
                ctx.finding(
                    check,
                    f"a training step takes {mine} against {theirs} for "
                    f"the reference {cfg.reference!r} {where}: {ratio:.2f}x, "
                    f"above the {limit:.1f}x limit",
                    hint,
                    severity,
                )
            )
    return out


def _mib(n: int) -> str:
    return f"{n / 2**20:.2f} MiB"
