"""Stages on the tiny model itself: build it, run it forward, run it backward, and do both
under bf16 autocast; with a watch on every unit call for the unit contract and the first
non-finite value.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from genesys_tui.checker.context import (
    RuntimeContext,
    cross_entropy,
    exception_finding,
    model_units,
    per_parameter,
)
from genesys_tui.checker.locate import UnitRef, index_units
from genesys_tui.checker.report import Finding
from genesys_tui.units.base import Unit

# --------------------------------------------------------------------------------------------
# Watching every unit call: the unit contract and the first non-finite output


class UnitWatch:
    """Hooks on every unit that record the first contract breach, the first unit whose output
    is not finite although its input was, and, for the backward pass, whether the gradient
    reaching each unit's output and the one it sends to its input are finite."""

    def __init__(self, ctx: RuntimeContext, model: nn.Module) -> None:
        self.ctx = ctx
        self.model = model
        self.index = index_units(model, ctx.design)
        self.contract: tuple[UnitRef, str] | None = None
        self.nonfinite: UnitRef | None = None
        self.grad_ok: dict[int, dict[str, bool]] = {}  # id(module) -> {"in": .., "out": ..}

    def _grad_hook(self, module: nn.Module, side: str, t: Any) -> None:
        if isinstance(t, torch.Tensor) and t.requires_grad:
            record = self.grad_ok.setdefault(id(module), {})

            def hook(g: torch.Tensor) -> None:
                record[side] = record.get(side, True) and bool(torch.isfinite(g).all())

            t.register_hook(hook)

    def _pre(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if id(module) in self.index:
            self._grad_hook(module, "in", args[0] if args else kwargs.get("X"))

    def _hook(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any],
              output: Any) -> None:  # fmt: skip
        ref = self.index.get(id(module))
        if ref is None:
            return
        X = args[0] if args else kwargs.get("X")
        problem = None
        if not (isinstance(output, tuple) and len(output) == 2):
            problem = f"returned {type(output).__name__}, not a tuple (Y, Z)"
        elif not isinstance(output[1], dict):
            problem = f"returned Z of type {type(output[1]).__name__}, not a dict"
        elif not isinstance(output[0], torch.Tensor):
            problem = f"returned Y of type {type(output[0]).__name__}, not a tensor"
        elif isinstance(X, torch.Tensor) and output[0].shape != X.shape:
            problem = (
                f"returned Y of shape {tuple(output[0].shape)} for X of shape "
                f"{tuple(X.shape)}; Y must have X's shape (B, T, D)"
            )
        if problem and self.contract is None:
            self.contract = (ref, problem)
        if problem or self.nonfinite is not None:
            return
        Y = output[0]
        self._grad_hook(module, "out", Y)
        if (
            Y.is_floating_point()
            and not bool(torch.isfinite(Y).all())
            and (not isinstance(X, torch.Tensor) or bool(torch.isfinite(X).all()))
        ):
            self.nonfinite = ref

    @contextmanager
    def active(self) -> Iterator[UnitWatch]:
        units = [m for m in self.model.modules() if isinstance(m, Unit)]
        handles = [m.register_forward_hook(self._hook, with_kwargs=True) for m in units]
        handles += [m.register_forward_pre_hook(self._pre, with_kwargs=True) for m in units]
        try:
            yield self
        finally:
            for h in handles:
                h.remove()

    def contract_finding(self) -> Finding | None:
        if self.contract is None:
            return None
        ref, problem = self.contract
        check = "shape" if "shape" in problem else "contract"
        return self.ctx.finding(
            check,
            f"unit {ref.uid!r} ({ref.cls}, block {ref.layer}) {problem}",
            "forward(self, X, **Z) must return (Y, Z): Y of "
            "the same shape as X, Z the dict of named values passed on",
            ref=ref,
        )

    def nonfinite_finding(self, where: str) -> Finding:
        ref = self.nonfinite
        what = (
            f"first in unit {ref.uid!r} ({ref.cls}, block {ref.layer})"
            if ref
            else ("outside any unit")
        )
        return self.ctx.finding(
            "nan",
            f"NaN or Inf in the {where}, {what}",
            "guard divisions, logs and square roots (add an eps, clamp), "
            "keep exponents bounded, and compute decays in float32",
            ref=ref,
        )

    def gradient_origin(self) -> UnitRef | None:
        """The innermost unit that received a finite gradient and passed a non-finite one back:
        where NaN or Inf entered the backward pass (None when no unit did)."""
        found = [self.index[m] for m, ok in self.grad_ok.items()
                 if ok.get("out", True) and not ok.get("in", True)]  # fmt: skip
        return max(found, key=lambda r: r.path.count("."), default=None)

    def nonfinite_grad_findings(self, names: list[str], where: str, hint: str) -> list[Finding]:
        if not names:
            return []
        ref = self.gradient_origin()
        origin = (f"; the NaN or Inf enters the backward pass in unit {ref.uid!r} ({ref.cls}, "
                  f"block {ref.layer}): its output's gradient is finite, its input's is not"
                  if ref else "")  # fmt: skip
        return [self.ctx.finding("nan", f"{len(names)} parameter(s) get NaN or Inf gradients "
                                 f"{where} (e.g. {names[0]}){origin}", hint, ref=ref)]  # fmt: skip


# --------------------------------------------------------------------------------------------
# Stages


def stage_build(ctx: RuntimeContext) -> list[Finding]:
    try:
        ctx.model = ctx.build()
    except Exception as exc:  # untrusted code: any failure is a finding
        return [exception_finding(ctx, exc, "build", "building the model")]
    ctx.index = index_units(ctx.model, ctx.design)
    ctx.figures["params_tiny"] = ctx.model.num_params()
    registered = {id(p) for p in ctx.model.parameters()}
    hidden: dict[tuple[str, str], UnitRef] = {}
    for module, ref in model_units(ctx.model, ctx.index):
        for name, value in vars(module).items():
            if name.startswith("_"):
                continue
            values = value if isinstance(value, list | tuple) else (
                list(value.values()) if isinstance(value, dict) else [value])  # fmt: skip
            if any(isinstance(v, torch.Tensor) and v.requires_grad and id(v) not in registered
                   for v in values):  # fmt: skip
                hidden.setdefault((ref.uid, name), ref)
    return [
        ctx.finding("hidden_parameter", f"unit {uid!r} keeps a trainable tensor in self.{name} "
                    "that is not a registered parameter: it escapes the optimizer and the "
                    "parameter count", "wrap it in nn.Parameter (or nn.ParameterList) assigned "
                    "to self, or register_buffer it if it is not trained", ref=ref)
        for (uid, name), ref in hidden.items()
    ]  # fmt: skip


def stage_forward(ctx: RuntimeContext) -> list[Finding]:
    assert ctx.model is not None
    model = ctx.model.train()
    x, _ = ctx.batch(salt=1)
    watch = UnitWatch(ctx, model)
    try:
        with watch.active(), torch.no_grad():
            logits = model(x)
    except Exception as exc:
        contract = watch.contract_finding()
        return [contract or exception_finding(ctx, exc, "forward", "the forward pass")]
    contract = watch.contract_finding()
    if contract is not None:
        return [contract]
    B, T = x.shape
    if tuple(logits.shape) != (B, T, ctx.tiny.vocab_size):
        return [
            ctx.finding(
                "shape",
                f"the model returned logits of shape "
                f"{tuple(logits.shape)}, expected {(B, T, ctx.tiny.vocab_size)}",
                "blocks must keep X's shape (B, T, D)",
            )
        ]
    if not bool(torch.isfinite(logits).all()):
        return [watch.nonfinite_finding("float32 forward pass")]
    return []


def stage_gradients(ctx: RuntimeContext) -> list[Finding]:
    assert ctx.model is not None
    model = ctx.model.train()
    model.zero_grad(set_to_none=True)
    x, y = ctx.batch(salt=2)
    watch = UnitWatch(ctx, model)
    try:
        with watch.active():
            loss = cross_entropy(model(x), y)
        loss.backward()
    except Exception as exc:
        return [exception_finding(ctx, exc, "gradient", "the backward pass")]
    frozen, missing, nonfinite = [], [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            frozen.append(name)
        elif p.grad is None:
            missing.append(name)
        elif not bool(torch.isfinite(p.grad).all()):
            nonfinite.append(name)
    out = []
    for names, check, what, hint in (
        (
            frozen,
            "gradient",
            "is frozen (requires_grad=False)",
            "a constant belongs in register_buffer, not in an nn.Parameter",
        ),
        (
            missing,
            "gradient",
            "gets no gradient: the loss does not depend on it",
            "use the parameter in forward, or delete it; check for .detach(), torch.no_grad() "
            "and branches that skip it",
        ),
    ):
        out += per_parameter(ctx, names, check, what, hint)
    out += watch.nonfinite_grad_findings(
        nonfinite, "in float32",
        "look for sqrt or pow at 0, log of values near 0, division by something that can be 0, "
        "and torch.where over a branch that is NaN where it is not taken (its gradient is still "
        "NaN * 0): clamp the input before the op, or add an eps",
    )  # fmt: skip
    model.zero_grad(set_to_none=True)
    return out


def stage_numerics(ctx: RuntimeContext) -> list[Finding]:
    assert ctx.model is not None
    model = ctx.model.train()
    model.zero_grad(set_to_none=True)
    x, y = ctx.batch(salt=3)
    watch = UnitWatch(ctx, model)
    try:
        with watch.active(), torch.autocast("cpu", dtype=torch.bfloat16):
            logits = model(x)
            loss = cross_entropy(logits, y)
        loss.backward()
    except Exception as exc:
        return [exception_finding(ctx, exc, "numerics", "training under bf16 autocast")]
    if not bool(torch.isfinite(logits).all()):
        return [watch.nonfinite_finding("forward pass under bf16 autocast")]
    bad = [
        n
        for n, p in model.named_parameters()
        if p.grad is not None and not bool(torch.isfinite(p.grad).all())
    ]
    model.zero_grad(set_to_none=True)
    return watch.nonfinite_grad_findings(
        bad, "under bf16 autocast",
        "keep reductions, exponentials and decays in float32 (x.float() ... .to(x.dtype)) and "
        "add eps where bf16 rounds to 0",
    )  # fmt: skip
