"""Stages about learning: the same seed gives the same model and outputs, and the model can
fit one small batch (the loss falls and every parameter receives a gradient)."""

from __future__ import annotations

import torch

from genesys_tui.checker.locate import index_units, unit_of_parameter
from genesys_tui.checker.report import Finding
from genesys_tui.checker.runtime import Adam, RuntimeContext, cross_entropy, per_parameter


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
    outs = []
    for model in (first, first, second):
        torch.manual_seed(ctx.config.seed + 7)
        with torch.no_grad():
            outs.append(model.train()(x))
    if not torch.allclose(outs[0], outs[1], rtol=1e-6, atol=1e-7):
        return [
            ctx.finding(
                "determinism",
                "the same model gives different outputs for the "
                "same input and seed on a second call: it keeps state between "
                "calls",
                "do not cache activations or update tensors in forward; a "
                "model must treat each batch on its own",
            )
        ]
    if not torch.allclose(outs[0], outs[2], rtol=1e-6, atol=1e-7):
        return [
            ctx.finding(
                "determinism",
                "two identical builds give different outputs for the same input and seed",
                "draw randomness in forward only from "
                "torch's global generator (dropout, torch.rand)",
            )
        ]
    return []


def stage_overfit(ctx: RuntimeContext) -> list[Finding]:
    cfg = ctx.config
    model = ctx.build().train()
    opt = Adam(list(model.parameters()), lr=cfg.overfit_lr)
    x, y = ctx.batch(salt=5)
    losses: list[float] = []
    still_zero = {n for n, p in model.named_parameters() if p.requires_grad}
    for _ in range(cfg.overfit_steps):
        loss = cross_entropy(model(x), y)
        losses.append(float(loss))
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
