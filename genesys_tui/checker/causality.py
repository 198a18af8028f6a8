"""Causality of the whole model: changing tokens after position t must not change anything at
positions <= t, in the logits, in any unit's output and in any value a unit puts into Z.

One batch holds one sequence per probe position t (``causality_points`` of them, always
including the first and the next-to-last position); a second batch replaces every token after
each row's t by a different random token. Hooks record every unit's inputs and outputs (X, Y
and each time-indexed tensor of Z) in call order, so the first recorded tensor that changes at
<= t names the culprit: the unit itself when its output leaks, its parent when a child's input
already leaks (the parent computed it). Runs in float64 where the design allows (a leak of 1e-9
shows) and falls back to float32; in training and evaluation mode both.
"""

from __future__ import annotations

import linecache
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from genesys_tui.checker.context import RuntimeContext, exception_finding
from genesys_tui.checker.locate import Place, UnitRef, index_units
from genesys_tui.checker.report import ERROR, WARNING, Finding
from genesys_tui.units.base import Unit

HINT = (
    "every output at position t may use positions <= t only: pass is_causal=True or a "
    "lower-triangular mask to attention, pad convolutions on the left (k-1 zeros) and never on "
    "the right, run cumulative sums and scans forward in time with the future masked, and "
    "never put into Y or Z a value computed from the whole sequence (a mean over T, a final "
    "state, a sum over all positions)"
)


@dataclass(frozen=True)
class Event:
    """One recorded hook call: ``kind`` is "in" or "out"; ``culprit`` whom to blame if the
    tensors leak (the unit for "out", the enclosing unit for "in")."""

    kind: str
    ref: UnitRef
    culprit: UnitRef | None
    tensors: dict[str, torch.Tensor]


def probe_points(T: int, n: int, gen: torch.Generator) -> list[int]:
    """``n`` distinct positions in [0, T-2]: the first, the next-to-last, the rest random."""
    points = {0, T - 2}
    while len(points) < min(n, T - 1):
        points.add(int(torch.randint(0, T - 1, (1,), generator=gen)))
    return sorted(points)[:n] if n >= 2 else [T - 2]


def _time_tensors(prefix: str, value: Any, B: int, T: int) -> Iterator[tuple[str, torch.Tensor]]:
    if isinstance(value, torch.Tensor):
        if value.dim() >= 2 and value.shape[0] == B and T in value.shape[1:]:
            dim = 1 + list(value.shape[1:]).index(T)
            yield prefix, value.detach().movedim(dim, 1).to(torch.float64).clone()
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _time_tensors(f"{prefix}[{k!r}]", v, B, T)
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from _time_tensors(f"{prefix}[{i}]", v, B, T)


class Recorder:
    """Pre- and post-forward hooks on every unit, recording time-indexed tensors in order."""

    def __init__(self, model: nn.Module, index: dict[int, UnitRef], B: int, T: int) -> None:
        self.model, self.index, self.B, self.T = model, index, B, T
        self.events: list[Event] = []
        self._stack: list[UnitRef] = []

    def _pre(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        ref = self.index[id(module)]
        parent = self._stack[-1] if self._stack else None
        X = args[0] if args else kwargs.get("X")
        tensors = dict(_time_tensors("X", X, self.B, self.T))
        tensors.update(
            _time_tensors("Z", {k: v for k, v in kwargs.items() if k != "X"}, self.B, self.T)
        )
        self.events.append(Event("in", ref, parent, tensors))
        self._stack.append(ref)

    def _post(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any],
              output: Any) -> None:  # fmt: skip
        ref = self.index[id(module)]
        if self._stack and self._stack[-1] is ref:
            self._stack.pop()
        tensors: dict[str, torch.Tensor] = {}
        if isinstance(output, tuple) and len(output) == 2:
            tensors.update(_time_tensors("Y", output[0], self.B, self.T))
            tensors.update(_time_tensors("Z", output[1], self.B, self.T))
        self.events.append(Event("out", ref, ref, tensors))

    @contextmanager
    def recording(self) -> Iterator[list[Event]]:
        self.events, self._stack = [], []
        units = [m for m in self.model.modules() if isinstance(m, Unit) and id(m) in self.index]
        handles = [m.register_forward_pre_hook(self._pre, with_kwargs=True) for m in units]
        handles += [m.register_forward_hook(self._post, with_kwargs=True) for m in units]
        try:
            yield self.events
        finally:
            for h in handles:
                h.remove()


def _leak(a: torch.Tensor, b: torch.Tensor, points: list[int], tol: float
          ) -> tuple[int, float] | None:  # fmt: skip
    """(t, change) for the first probe row whose positions <= t differ beyond ``tol``."""
    if a.shape != b.shape:
        return None
    scale = max(1.0, float(a.abs().max())) if a.numel() else 1.0
    for row, t in enumerate(points):
        diff = float((a[row, : t + 1] - b[row, : t + 1]).abs().max())
        if not diff <= tol * scale:  # NaN counts as a change
            return t, diff
    return None


class OpTrace(TorchFunctionMode):
    """Every torch function called from unit file ``filename`` (the innermost unit-code frame
    of the call), with the line and the time-indexed tensors it returned, in call order."""

    def __init__(self, filename: str, B: int, T: int) -> None:
        super().__init__()
        self.filename, self.B, self.T = filename, B, T
        self.ops: list[tuple[int, dict[str, torch.Tensor]]] = []

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None
                           ) -> Any:  # fmt: skip
        out = func(*args, **(kwargs or {}))
        frame = sys._getframe(1)
        while frame is not None and frame.f_code.co_filename != self.filename:
            frame = frame.f_back  # type: ignore[assignment]
        if frame is not None:
            tensors = dict(_time_tensors("out", out, self.B, self.T))
            if tensors:
                self.ops.append((frame.f_lineno, tensors))
        return out


def _leak_line(model: nn.Module, ids: torch.Tensor, changed: torch.Tensor, points: list[int],
               tol: float, dtype: torch.dtype, filename: str) -> int | None:  # fmt: skip
    """The line of ``filename`` whose torch op first returns a tensor that depends on the
    future, replaying both batches op by op; None when no op there does."""
    B, T = ids.shape
    traces = [OpTrace(filename, B, T), OpTrace(filename, B, T)]
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.no_grad():
            for trace, batch in zip(traces, (ids, changed), strict=True):
                with trace:
                    model(batch)
    finally:
        torch.set_default_dtype(previous)
    for (line_a, a), (line_b, b) in zip(traces[0].ops, traces[1].ops, strict=False):
        if line_a != line_b:
            return None  # control flow depends on the data
        if any(_leak(t, b[k], points, tol) for k, t in a.items() if k in b):
            return line_a
    return None


Run = tuple[torch.Tensor, torch.Tensor, list[Event], list[Event]]


def _run(model: nn.Module, ctx: RuntimeContext, ids: torch.Tensor, changed: torch.Tensor,
         dtype: torch.dtype) -> Run:  # fmt: skip
    B, T = ids.shape
    recorder = Recorder(model, index_units(model, ctx.design), B, T)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # tensors a unit creates in forward follow the model's dtype
    try:
        model.to(dtype)
        with torch.no_grad():
            with recorder.recording() as first:
                out_a = model(ids)
            with recorder.recording() as second:
                out_b = model(changed)
    finally:
        torch.set_default_dtype(previous)
    return out_a.to(torch.float64), out_b.to(torch.float64), first, second


def stage_causality(ctx: RuntimeContext) -> list[Finding]:
    cfg, T, V = ctx.config, ctx.tiny.context_length, ctx.tiny.vocab_size
    gen = ctx.generator(salt=10)
    points = probe_points(T, cfg.causality_points, gen)
    B = len(points)
    ids = torch.randint(0, V, (B, T), generator=gen)
    changed = ids.clone()
    for row, t in enumerate(points):  # a shift of 1..V-1 makes every later token different
        shift = torch.randint(1, V, (T - t - 1,), generator=gen)
        changed[row, t + 1 :] = (ids[row, t + 1 :] + shift) % V
    model = ctx.build()
    findings: list[Finding] = []
    for mode in ("train", "eval"):
        model.train(mode == "train")
        try:
            out_a, out_b, first, second = _run(model, ctx, ids, changed, torch.float64)
            tol = cfg.causality_tol64
        except Exception:  # a unit that pins float32 somewhere: test in float32 instead
            try:
                out_a, out_b, first, second = _run(model, ctx, ids, changed, torch.float32)
            except Exception as exc:
                return [exception_finding(ctx, exc, "causality", f"the forward pass ({mode} mode)")]
            tol = cfg.causality_tol32
        ctx.figures[f"causality_dtype_{mode}"] = (
            "float64" if tol == cfg.causality_tol64 else ("float32")
        )
        logits_leak = _leak(out_a, out_b, points, tol)
        culprit = _first_leak(first, second, points, tol)
        if logits_leak is None and culprit is None:
            continue
        place = None
        if culprit is not None and culprit[0].culprit is not None:
            ref = culprit[0].culprit
            filename = next(f for f, rel in ctx.files.items() if rel == ref.file)
            dtype = torch.float64 if tol == cfg.causality_tol64 else torch.float32
            line = _leak_line(model, ids, changed, points, tol, dtype, filename)
            if line is not None:
                code = linecache.getline(filename, line).rstrip() or None
                place = Place(ref.file, line, code, ref.uid)
        findings.append(_finding(ctx, mode, logits_leak, culprit, tol, place))
        if logits_leak is not None:
            break
    model.float()
    return findings


def _first_leak(first: list[Event], second: list[Event], points: list[int], tol: float
                ) -> tuple[Event, str, int, float] | None:  # fmt: skip
    for ea, eb in zip(first, second, strict=False):
        if ea.ref is not eb.ref or ea.kind != eb.kind:
            return None  # control flow depends on the data: the logits check still holds
        for name, a in ea.tensors.items():
            b = eb.tensors.get(name)
            if b is None:
                continue
            hit = _leak(a, b, points, tol)
            if hit is not None:
                return ea, name, hit[0], hit[1]
    return None


def _finding(ctx: RuntimeContext, mode: str, logits_leak: tuple[int, float] | None,
             culprit: tuple[Event, str, int, float] | None, tol: float,
             place: Place | None) -> Finding:  # fmt: skip
    where = ""
    ref = None
    if culprit is not None:
        event, name, t, change = culprit
        ref = event.culprit
        what = f"output {name}" if event.kind == "out" else f"input {name} to {event.ref.uid!r}"
        if ref is not None:
            where = (
                f"; the first value that depends on the future is the {what} of unit "
                f"{ref.uid!r} ({ref.cls}, block {ref.layer}), at position {t} (change "
                f"{change:.1e})"
            )
            if event.kind == "in":
                where = (
                    f"; the first value that depends on the future is the {what}, "
                    f"computed by unit {ref.uid!r} ({ref.cls}, block {ref.layer}) before "
                    f"it calls its child (change {change:.1e} at position {t})"
                )
    if logits_leak is not None:
        t, change = logits_leak
        message = (
            f"future tokens leak in {mode} mode: the logits at position {t} change by "
            f"{change:.1e} (tolerance {tol:.0e} relative) when only tokens after {t} "
            f"change{where}"
        )
        return ctx.finding("causality", message, HINT, ERROR, place=place, ref=ref)
    message = (
        f"a value depends on future tokens in {mode} mode although the logits do not"
        f"{where}; nothing reads it yet, but the next unit that does will leak"
    )
    return ctx.finding("causality", message, HINT, WARNING, place=place, ref=ref)
