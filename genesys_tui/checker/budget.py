"""The parameter budget: the design's non-embedding size against the reference's, at the
budget size or, with a rung, whether the ladder can size the design to that rung."""

from __future__ import annotations

import torch

from genesys_tui.checker.report import Finding
from genesys_tui.checker.runtime import RuntimeContext, exception_finding
from genesys_tui.config import ModelConfig
from genesys_tui.design import Design
from genesys_tui.units.lm import build_lm


def _count(design: Design, config: ModelConfig) -> int:
    """Non-embedding parameters of ``design`` at ``config``.

    Small sizes are built for real (milliseconds); large ones on the meta device, which
    allocates nothing but costs seconds once (torch imports its compiler stack for it).
    """
    approx_bytes = 4 * (
        12 * config.d_model**2 * config.n_layers + config.vocab_size * config.d_model
    )  # a GPT of this size, in float32
    if approx_bytes <= 256 * 2**20:
        return build_lm(design, config, seed=0).num_params(non_embedding=True)
    try:
        with torch.device("meta"):
            return build_lm(design, config).num_params(non_embedding=True)
    except Exception:  # a unit that reads values while building needs real tensors
        return build_lm(design, config, seed=0).num_params(non_embedding=True)


def stage_params(ctx: RuntimeContext) -> list[Finding]:
    """Without a rung: the non-embedding count at the budget size must be within the configured
    ratios of the reference's. With a rung: the ladder must be able to size the design to the
    rung (``verify.ladder.size_design``), as the verifier will."""
    cfg = ctx.config
    try:
        n = _count(ctx.design, ctx.budget)
    except Exception as exc:
        return [
            exception_finding(
                ctx,
                exc,
                "build",
                f"building at the budget size "
                f"(d_model={ctx.budget.d_model}, n_layers="
                f"{ctx.budget.n_layers})",
            )
        ]
    n_ref = _count(ctx.reference, ctx.budget)
    ratio = n / n_ref
    ctx.figures.update(params_non_embedding=n, params_reference=n_ref, params_ratio=round(ratio, 4))
    size = f"d_model={ctx.budget.d_model}, n_layers={ctx.budget.n_layers}"
    if ctx.rung is not None:
        return _sized_to_rung(ctx, ctx.rung)
    if cfg.param_ratio_low <= ratio <= cfg.param_ratio_high:
        return []
    direction = "above" if ratio > cfg.param_ratio_high else "below"
    bound = cfg.param_ratio_high if ratio > cfg.param_ratio_high else cfg.param_ratio_low
    return [
        ctx.finding(
            "param_budget",
            f"{n:,} non-embedding parameters at {size} are "
            f"{ratio:.2f}x the reference {cfg.reference!r} ({n_ref:,}), {direction} "
            f"the budget's {bound:.2f}x",
            "size the design to the reference at the same width and depth: change "
            "expansion factors, state or head sizes in design.json args "
            f"({'shrink' if direction == 'above' else 'grow'} them)",
        )
    ]


def _sized_to_rung(ctx: RuntimeContext, rung_name: str) -> list[Finding]:
    from genesys_tui.errors import VerifyError
    from genesys_tui.verify.ladder import find_rung, size_design

    rung = find_rung(rung_name)
    try:
        sized = size_design(ctx.design, rung, vocab_size=ctx.tiny.vocab_size)
    except VerifyError as exc:
        return [
            ctx.finding(
                "param_budget",
                str(exc),
                "make one block's parameter count close to a GPT block's at the "
                "same width (change expansion factors, state or head sizes), so "
                "that some depth matches the rung's budget",
            )
        ]
    ctx.figures.update(rung_d_model=sized.d_model, rung_n_layers=sized.n_layers)
    return []
