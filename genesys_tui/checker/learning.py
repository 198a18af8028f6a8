"""Stages about learning: the same seed gives the same model and outputs, and the model can
fit one small batch (the loss falls and every parameter receives a gradient)."""

from __future__ import annotations

import hashlib
from typing import Any

import torch
from torch import nn

from genesys_tui.checker.context import Adam, RuntimeContext, cross_entropy, per_parameter
from genesys_tui.checker.locate import UnitRef, index_units, unit_of_parameter
from genesys_tui.checker.report import Finding
from genesys_tui.units.lm import LanguageModel


def stage_determinism(ctx: RuntimeContext) -> list[Finding]:
    first, second = ctx.build(), ctx.build()
    a, b = first.state_dict(), second.state_dict()
    differ = [k for k in a if k not in b or not torch.equal(a[k], b[k])]
    if differ:
        ref = unit_of_parameter(differ[0], index_units(first, ctx.design))
        return [
            ctx.finding(
                "determinism",
                f"two builds with the same seed give different "
                f"weights ({differ[0]} and {len(differ) - 1} more)",
                "draw all randomness from torch's generator (torch.rand, nn.init); "
                "do not use Python's random, time or unseeded generators",
                ref=ref,
            )
        ]
    x, _ = ctx.batch(salt=4)
    runs = [_run(ctx, model, x) for model in (first, first, second)]
    for other, message, hint in (
        (runs[1], "the same model gives different outputs for the same input and seed on a "
         "second call: it keeps state between calls",
         "do not cache activations or update tensors in forward; a model must treat each "
         "batch on its own"),
        (runs[2], "two identical builds give different outputs for the same input and seed",
         "draw randomness in forward only from torch's global generator (dropout, torch.rand)"),
    ):  # fmt: skip
        if not torch.allclose(runs[0][0], other[0], rtol=1e-6, atol=1e-7):
            ref = _first_divergent(runs[0][1], other[1])
            if ref is not None:
                message += f"; the first unit to differ is {ref.uid!r} ({ref.cls}, block "
                message += f"{ref.layer})"
            return [ctx.finding("determinism", message, hint, ref=ref)]
    ctx.figures["fingerprint"] = functional_fingerprint(runs[0][0])
    return []


def functional_fingerprint(logits: torch.Tensor) -> str:
    """A hash of what a design computes: its logits, seeded build, fixed input, rounded.

    The evolution loop's novelty gate compares these: a renamed unit, an argument no code
    reads or reformatted source give the same fingerprint. Rounding keeps summation-order noise
    from splitting one function into two.
    """
    rounded = torch.round(logits.detach().double() * 1e5).to(torch.int64)
    return hashlib.sha256(rounded.cpu().numpy().tobytes()).hexdigest()


Call = tuple[UnitRef, torch.Tensor | None, torch.Tensor | None]


def _run(ctx: RuntimeContext, model: LanguageModel, x: torch.Tensor
         ) -> tuple[torch.Tensor, list[Call]]:  # fmt: skip
    """Logits of ``model`` on ``x`` after seeding torch, and every unit call's (X, Y)."""
    index = index_units(model, ctx.design)
    calls: list[Call] = []

    def hook(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> None:
        X = args[0] if args else kwargs.get("X")
        Y = out[0] if isinstance(out, tuple) and out else None
        calls.append((index[id(module)], _copy(X), _copy(Y)))

    handles = [m.register_forward_hook(hook, with_kwargs=True)
               for m in model.modules() if id(m) in index]  # fmt: skip
    try:
        torch.manual_seed(ctx.config.seed + 7)
        with torch.no_grad():
            logits = model.train()(x)
    finally:
        for h in handles:
            h.remove()
    return logits, calls


def _copy(t: Any) -> torch.Tensor | None:
    return t.detach().clone() if isinstance(t, torch.Tensor) else None


def _same(a: torch.Tensor | None, b: torch.Tensor | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.shape == b.shape and torch.allclose(a, b, rtol=1e-6, atol=1e-7)


def _first_divergent(a: list[Call], b: list[Call]) -> UnitRef | None:
    """The first unit (in completion order) given the same input that returned another output."""
    for (ref, xa, ya), (_, xb, yb) in zip(a, b, strict=False):
        if _same(xa, xb) and not _same(ya, yb):
            return ref
    return None


def stage_overfit(ctx: RuntimeContext) -> list[Finding]:
    cfg = ctx.config
    model = ctx.build().train()
    opt = Adam(list(model.parameters()), lr=cfg.overfit_lr)
    x, y = ctx.batch(salt=5)
    losses: list[float] = []
    still_zero = {n for n, p in model.named_parameters() if p.requires_grad}
    for _ in range(cfg.overfit_steps):
        loss = cross_entropy(model(x), y)
        losses.append(loss.item())
        if not torch.isfinite(loss):
            return [
                ctx.finding(
                    "nan",
                    f"the loss became {losses[-1]} at step {len(losses)} of "
                    f"training on one batch (Adam, lr {cfg.overfit_lr})",
                    "the design is unstable under training: normalize inputs to "
                    "recurrences, bound gates with sigmoid, keep decays below 1",
                )
            ]
        opt.zero_grad()
        loss.backward()
        still_zero -= {
            n
            for n, p in model.named_parameters()
            if p.grad is not None and bool((p.grad != 0).any())
        }
        opt.step()
    ctx.figures.update(
        overfit_loss_first=round(losses[0], 4), overfit_loss_last=round(losses[-1], 4)
    )
    out = per_parameter(
        ctx,
        sorted(still_zero),
        "gradient",
        f"had an exactly zero gradient in all {cfg.overfit_steps} steps",
        "the parameter is used but cannot learn: look for a multiplication by "
        "a zero constant, a dead branch or a saturated gate",
    )
    if losses[-1] > losses[0] * (1.0 - cfg.overfit_min_drop):
        out.append(
            ctx.finding(
                "overfit",
                f"training {cfg.overfit_steps} steps on one batch "
                f"took the loss from {losses[0]:.3f} to {losses[-1]:.3f}; it "
                f"must fall by at least {cfg.overfit_min_drop:.0%}",
                "the model cannot fit even one batch: check that the output "
                "depends on the input through trainable weights, that "
                "residuals are added, and that nothing is detached",
            )
        )
    return out
