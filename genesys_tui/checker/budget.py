"""The parameter budget: the design's non-embedding size against the reference's, at the
budget size or, with a rung, whether the ladder can size the design to that rung.

When the count is off, the finding names the role whose units hold the most surplus (or
shortfall) against the reference's units of the same role, so the fix lands on the right unit.
"""

from __future__ import annotations

from collections import Counter

import torch

from genesys_tui.checker.context import RuntimeContext, exception_finding
from genesys_tui.checker.locate import UnitRef, index_units, unit_of_parameter
from genesys_tui.checker.report import Finding
from genesys_tui.config import ModelConfig
from genesys_tui.design import Design
from genesys_tui.errors import VerifyError
from genesys_tui.ladder import find_rung, size_design
from genesys_tui.units.lm import LanguageModel, build_lm


def _build(design: Design, config: ModelConfig) -> LanguageModel:
    # Small sizes are built for real (milliseconds); large ones on the meta device, which
    # allocates nothing but costs seconds once (torch imports its compiler stack for it).
    approx_bytes = 4 * (12 * config.d_model**2 * config.n_layers
                        + config.vocab_size * config.d_model)  # fmt: skip
    if approx_bytes <= 256 * 2**20:
        return build_lm(design, config, seed=0)
    try:
        with torch.device("meta"):
            return build_lm(design, config)
    except Exception:  # a unit that reads values while building needs real tensors
        return build_lm(design, config, seed=0)


def by_role(model: LanguageModel, design: Design) -> tuple[Counter[str], dict[str, UnitRef]]:
    """Non-embedding parameters per role of the unit that owns them directly (``scaffold`` for
    the final norm), and the first unit of each role."""
    index = index_units(model, design)
    counts: Counter[str] = Counter()
    first: dict[str, UnitRef] = {}
    for name, p in model.named_parameters():
        if name == "wte.weight":
            continue
        ref = unit_of_parameter(name, index)
        role = design.units[ref.uid].role if ref is not None else "scaffold"
        counts[role] += p.numel()
        if ref is not None:
            first.setdefault(role, ref)
    return counts, first


def stage_params(ctx: RuntimeContext) -> list[Finding]:
    """Without a rung: the non-embedding count at the budget size must be within the configured
    ratios of the reference's. With a rung: the ladder must be able to size the design to the
    rung (``ladder.size_design``), as the verifier will."""
    cfg, size = ctx.config, ctx.budget
    try:
        model = _build(ctx.design, size)
    except Exception as exc:
        doing = f"building at the budget size (d_model={size.d_model}, n_layers={size.n_layers})"
        return [exception_finding(ctx, exc, "build", doing)]
    reference = _build(ctx.reference, size)
    n, n_ref = model.num_params(non_embedding=True), reference.num_params(non_embedding=True)
    ratio = n / n_ref
    ctx.figures.update(params_non_embedding=n, params_reference=n_ref, params_ratio=round(ratio, 4))
    if ctx.rung is not None:
        return _sized_to_rung(ctx, ctx.rung)
    if cfg.param_ratio_low <= ratio <= cfg.param_ratio_high:
        return []
    above = ratio > cfg.param_ratio_high
    mine, first = by_role(model, ctx.design)
    theirs, _ = by_role(reference, ctx.reference)
    gaps = {role: mine[role] - theirs[role] for role in mine if role != "scaffold"}
    role = max(gaps, key=gaps.__getitem__) if above else min(gaps, key=gaps.__getitem__)
    ref = first.get(role)
    bound = cfg.param_ratio_high if above else cfg.param_ratio_low
    message = (
        f"{n:,} non-embedding parameters at d_model={size.d_model}, n_layers={size.n_layers} "
        f"are {ratio:.2f}x the reference {cfg.reference!r} ({n_ref:,}), "
        f"{'above' if above else 'below'} the budget's {bound:.2f}x; the {role} units hold "
        f"{mine[role]:,} against the reference's {theirs[role]:,}"
    )
    hint = (
        f"{'shrink' if above else 'grow'} the {role} units (unit "
        f"{ref.uid if ref else role!r}): change their expansion factor, state or head size in "
        "design.json args so the design matches the reference's size at the same width and depth"
    )
    return [ctx.finding("param_budget", message, hint, ref=ref)]


def _sized_to_rung(ctx: RuntimeContext, rung_name: str) -> list[Finding]:
    rung = find_rung(rung_name)
    try:
        sized = size_design(ctx.design, rung, vocab_size=ctx.tiny.vocab_size)
    except VerifyError as exc:
        return [ctx.finding("param_budget", str(exc),
                            "make one block's parameter count close to a GPT block's at the "
                            "same width (change expansion factors, state or head sizes), so "
                            "that some depth matches the rung's budget")]  # fmt: skip
    ctx.figures.update(rung_d_model=sized.d_model, rung_n_layers=sized.n_layers)
    return []
