"""Causality of the whole model: changing tokens after position t must not change anything at
positions <= t, in the logits, in any unit's output and in any value a unit puts into Z.

One batch holds one sequence per probe position t (``causality_points`` of them, always
including the first and the next-to-last position); a second batch replaces every token after
each row's t by a different random token. Hooks record every unit's inputs and outputs (X, Y
and each time-indexed tensor of Z) in call order, so the first recorded tensor that changes at
<= t names the culprit: the unit itself when its output leaks, its parent when a child's input
already leaks (the parent computed it). Runs in float64 where the design allows (a leak of 1e-9
shows) and falls back to float32; in training and evaluation mode both.

Then the same probe runs as the model is trained, at the lengths it is trained at: a model built
for the full context length (the rung's, else ``budget_context_length``) is probed at that
length and on both sides of each of ``causality_lengths`` (63 and 65 for 64, ...), two rows per
length at random positions (one anywhere, one in the second half), in float32, with gradients
on in training mode and off in evaluation mode. A unit that is causal at the tiny length but
branches on T, on the dtype or on grad mode to leak in training is caught there.
"""

from __future__ import annotations

import dataclasses
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


def probe_lengths(full: int, boundaries: tuple[int, ...], tiny: int) -> list[int]:
    """The sequence lengths of the second probe: ``b - 1`` and ``b + 1`` for each boundary
    ``b``, and ``full`` itself, none above ``full`` and none equal to the tiny length (which
    the first probe covers); empty when ``boundaries`` is."""
    if not boundaries:
        return []
    lengths = {n for b in boundaries for n in (b - 1, b + 1)} | {full}
    return sorted(n for n in lengths if 4 <= n <= full and n != tiny)


def _long_points(T: int, gen: torch.Generator) -> list[int]:
    """Two positions in [0, T-2]: one anywhere, one in the second half (distinct)."""
    first = int(torch.randint(0, T - 1, (1,), generator=gen))
    second = int(torch.randint(T // 2, T - 1, (1,), generator=gen))
    return sorted({first, second})


def _perturbed(T: int, points: list[int], V: int, gen: torch.Generator
               ) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """One random sequence per probe position, and a copy whose tokens after it all differ."""
    ids = torch.randint(0, V, (len(points), T), generator=gen)
    changed = ids.clone()
    for row, t in enumerate(points):  # a shift of 1..V-1 makes every later token different
        shift = torch.randint(1, V, (T - t - 1,), generator=gen)
        changed[row, t + 1 :] = (ids[row, t + 1 :] + shift) % V
    return ids, changed


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
               tol: float, dtype: torch.dtype, filename: str, grad: bool = False
               ) -> int | None:  # fmt: skip
    """The line of ``filename`` whose torch op first returns a tensor that depends on the
    future, replaying both batches op by op; None when no op there does."""
    B, T = ids.shape
    traces = [OpTrace(filename, B, T), OpTrace(filename, B, T)]
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.set_grad_enabled(grad):
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
         dtype: torch.dtype, grad: bool = False) -> Run:  # fmt: skip
    B, T = ids.shape
    recorder = Recorder(model, index_units(model, ctx.design), B, T)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # tensors a unit creates in forward follow the model's dtype
    try:
        model.to(dtype)
        with torch.set_grad_enabled(grad):
            with recorder.recording() as first:
                out_a = model(ids).detach()
            with recorder.recording() as second:
                out_b = model(changed).detach()
    finally:
        torch.set_default_dtype(previous)
    return out_a.to(torch.float64), out_b.to(torch.float64), first, second


def stage_causality(ctx: RuntimeContext) -> list[Finding]:
    """The tiny-length probe (float64 where it runs), then the probe at the trained lengths."""
    cfg, T = ctx.config, ctx.tiny.context_length
    gen = ctx.generator(salt=10)
    points = probe_points(T, cfg.causality_points, gen)
    ids, changed = _perturbed(T, points, ctx.tiny.vocab_size, gen)
    model = ctx.build()
    findings = _probe(ctx, model, ids, changed, points, (torch.float64, torch.float32))
    model.float()
    lengths = probe_lengths(ctx.budget.context_length, cfg.causality_lengths, T)
    if any(f.is_error for f in findings) or not lengths:
        return findings
    gen = ctx.generator(salt=11)
    try:
        model = ctx.build(config=dataclasses.replace(ctx.tiny, context_length=max(lengths)))
    except Exception as exc:
        return [exception_finding(ctx, exc, "causality", f"building for T={max(lengths)}")]
    ctx.figures["causality_lengths"] = ",".join(map(str, lengths))
    for length in lengths:
        points = _long_points(length, gen)
        ids, changed = _perturbed(length, points, ctx.tiny.vocab_size, gen)
        for f in _probe(ctx, model, ids, changed, points, (torch.float32,), trained=True):
            if f.is_error or (f.unit, f.severity) not in {(g.unit, g.severity) for g in findings}:
                findings.append(f)
        if any(f.is_error for f in findings):
            break
    return findings


def _probe(ctx: RuntimeContext, model: nn.Module, ids: torch.Tensor, changed: torch.Tensor,
           points: list[int], dtypes: tuple[torch.dtype, ...], trained: bool = False
           ) -> list[Finding]:  # fmt: skip
    """Findings of one probe batch in train and eval mode, in the first of ``dtypes`` that
    runs. ``trained``: gradients on in train mode, as in training, and the length is named."""
    cfg = ctx.config
    findings: list[Finding] = []
    for mode in ("train", "eval"):
        model.train(mode == "train")
        grad = trained and mode == "train"
        run, error = None, None
        for dtype in dtypes:  # a unit that pins float32 somewhere: test in float32 instead
            try:
                run = _run(model, ctx, ids, changed, dtype, grad)
                break
            except Exception as exc:
                error = exc
        if run is None:
            assert error is not None
            doing = f"the forward pass ({mode} mode, T={ids.shape[1]})"
            return [exception_finding(ctx, error, "causality", doing)]
        out_a, out_b, first, second = run
        tol = cfg.causality_tol64 if dtype == torch.float64 else cfg.causality_tol32
        if not trained:
            ctx.figures[f"causality_dtype_{mode}"] = str(dtype).removeprefix("torch.")
        logits_leak = _leak(out_a, out_b, points, tol)
        culprit = _first_leak(first, second, points, tol)
        if logits_leak is None and culprit is None:
            continue
        place = None
        if culprit is not None and culprit[0].culprit is not None:
            ref = culprit[0].culprit
            filename = next(f for f, rel in ctx.files.items() if rel == ref.file)
            line = _leak_line(model, ids, changed, points, tol, dtype, filename, grad)
            if line is not None:
                code = linecache.getline(filename, line).rstrip() or None
                place = Place(ref.file, line, code, ref.uid)
        length = ids.shape[1] if trained else None
        findings.append(_finding(ctx, mode, logits_leak, culprit, tol, place, length))
        if logits_leak is not None:
            break
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
             place: Place | None, length: int | None = None) -> Finding:  # fmt: skip
    if length is not None:
        how = "with gradients on, " if mode == "train" else ""
        mode = f"{mode} mode at sequence length {length} ({how}as the model is trained)"
    else:
        mode = f"{mode} mode"
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
            f"future tokens leak in {mode}: the logits at position {t} change by "
            f"{change:.1e} (tolerance {tol:.0e} relative) when only tokens after {t} "
            f"change{where}"
        )
        return ctx.finding("causality", message, HINT, ERROR, place=place, ref=ref)
    message = (
        f"a value depends on future tokens in {mode} although the logits do not"
        f"{where}; nothing reads it yet, but the next unit that does will leak"
    )
    return ctx.finding("causality", message, HINT, WARNING, place=place, ref=ref)
