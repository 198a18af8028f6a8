"""What the runtime stages share: the context they run in (the design, its reference, sizes,
the tiny model once built) and the helpers every stage uses (batches, a plain Adam, the loss,
findings from exceptions and sandbox refusals). The stages import this module; ``runtime.py``
imports the stages, so every arrow points one way.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genesys_tui.checker.guard import Guard
from genesys_tui.checker.locate import (
    Place,
    UnitRef,
    place_of_stack,
    place_of_traceback,
    unit_filenames,
    unit_of_parameter,
)
from genesys_tui.checker.report import ERROR, Finding
from genesys_tui.checker.settings import CheckConfig
from genesys_tui.config import ModelConfig
from genesys_tui.design import Design
from genesys_tui.units.lm import LanguageModel, build_lm

MAX_PER_CHECK = 5  # findings of one kind listed in full; the rest are counted


@dataclass
class RuntimeContext:
    """What the stages share: the design, its reference, sizes, the tiny model once built."""

    design: Design
    reference: Design
    config: CheckConfig
    tiny: ModelConfig  # the size every runtime check builds at
    budget: ModelConfig  # the size parameters are counted at
    rung: str | None = None  # the ladder rung the design is checked for, if any
    files: dict[str, str] = field(default_factory=dict)  # code filename -> unit file
    model: LanguageModel | None = None
    index: dict[int, UnitRef] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.files = unit_filenames(self.design)

    def generator(self, salt: int) -> torch.Generator:
        """A fresh generator for one use, so stages do not shift each other's randomness."""
        return torch.Generator().manual_seed(self.config.seed * 1000 + salt)

    def batch(self, salt: int, batch: int | None = None, T: int | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        """Random token ids and next-token targets, (B, T) each."""
        gen = self.generator(salt)
        B, T = batch or self.config.batch_size, T or self.tiny.context_length
        ids = torch.randint(0, self.tiny.vocab_size, (B, T + 1), generator=gen)
        return ids[:, :-1], ids[:, 1:]

    def build(self, design: Design | None = None, config: ModelConfig | None = None
              ) -> LanguageModel:  # fmt: skip
        return build_lm(design or self.design, config or self.tiny, seed=self.config.seed)

    def finding(self, check: str, message: str, hint: str, severity: str = ERROR,
                place: Place | None = None, ref: UnitRef | None = None) -> Finding:  # fmt: skip
        if place is not None:
            return Finding(
                check, severity, message, hint, "", place.file, place.line, place.unit, place.code
            )
        if ref is not None:
            line = self.design.decls[ref.uid].line if ref.uid in self.design.decls else None
            return Finding(check, severity, message, hint, "", ref.file, line, ref.uid)
        return Finding(check, severity, message, hint)


def model_units(model: nn.Module, index: dict[int, UnitRef]) -> Iterator[tuple[nn.Module, UnitRef]]:
    for module in model.modules():
        ref = index.get(id(module))
        if ref is not None:
            yield module, ref


class Adam:
    """Plain Adam without weight decay, in a few tensor ops.

    torch.optim would do, but its first use imports torch's compiler stack (seconds, and it
    writes a cache directory, which the sandbox refuses); a check needs none of it.
    """

    def __init__(self, params: Iterator[nn.Parameter] | list[nn.Parameter], lr: float,
                 betas: tuple[float, float] = (0.9, 0.95), eps: float = 1e-8) -> None:  # fmt: skip
        self.params = [p for p in params if p.requires_grad]
        self.lr, self.betas, self.eps, self.t = lr, betas, eps, 0
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        b1, b2 = self.betas
        c1, c2 = 1 - b1**self.t, 1 - b2**self.t
        for p, m, v in zip(self.params, self.m, self.v, strict=True):
            if p.grad is None:
                continue
            m.mul_(b1).add_(p.grad, alpha=1 - b1)
            v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
            p.addcdiv_(m, (v / c2).sqrt_().add_(self.eps), value=-self.lr / c1)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), targets.reshape(-1))


# --------------------------------------------------------------------------------------------
# Exceptions -> findings


def exception_finding(ctx: RuntimeContext, exc: BaseException, check: str, doing: str
                      ) -> Finding:  # fmt: skip
    """A finding for ``exc``, raised while ``doing`` (``building the model``), placed in the
    innermost unit frame of its traceback."""
    place = place_of_traceback(exc.__traceback__, ctx.files, ctx.index)
    text = f"{type(exc).__name__}: {exc}".strip()
    if len(text) > 800:
        text = text[:800] + " ..."
    message = f"{doing} raised {text}"
    lowered = str(exc).lower()
    if (
        isinstance(exc, MemoryError)
        or "can't allocate memory" in lowered
        or ("not enough memory" in lowered)
    ):
        return ctx.finding(
            "memory_limit",
            f"{doing} ran out of memory (the checker allows "
            f"{ctx.config.memory_limit_mb} MiB): {text}",
            "a tiny model needs a few MiB: look for a tensor whose size grows "
            "with T*T*D or more, or a size computed from the wrong variable",
            place=place,
        )
    if isinstance(exc, RecursionError):
        hint = "a method calls itself without end: check forward and its helpers"
    elif isinstance(exc, SystemExit | KeyboardInterrupt):
        hint = "raise an exception with a message instead of exiting"
    elif place is None:
        hint = (
            "the error arose outside the unit code, from what a unit returned: each unit "
            "must return (Y, Z), Y a tensor of X's shape and Z a dict"
        )
    else:
        hint = "fix the line shown; the traceback's innermost frame in unit code is given"
    return ctx.finding(check, message, hint, place=place)


def violation_findings(ctx: RuntimeContext, guard: Guard, start: int) -> list[Finding]:
    out = []
    for v in guard.violations[start:]:
        place = place_of_stack(v.frames, ctx.files)
        if place is not None:
            out.append(
                ctx.finding(
                    "sandbox",
                    f"the unit code tried {v.what}, which the checker refuses",
                    "a model only computes on tensors: "
                    "remove file, network, process and exit calls",
                    place=place,
                )
            )
            continue
        inner = next((f"{f}:{n}" for f, n in v.frames if "genesys_tui/checker" not in f), "?")
        out.append(
            ctx.finding(
                "sandbox",
                f"library code ({inner}), called outside any unit's "
                f"code, tried {v.what}, which the checker refuses",
                "if the design calls nothing unusual, this is a checker bug: "
                "report it with this message",
            )
        )
    return out


def per_parameter(ctx: RuntimeContext, names: list[str], check: str, what: str, hint: str,
                  noun: str = "parameter") -> list[Finding]:  # fmt: skip
    """One finding per unit and parameter (or ``noun``: a buffer), the blocks it occurs in
    listed together (``mlp.gate in blocks 0, 1``), at most MAX_PER_CHECK of them."""
    grouped: dict[tuple[str, str], list[int]] = {}
    refs: dict[tuple[str, str], UnitRef | None] = {}
    for name in names:
        ref = unit_of_parameter(name, ctx.index)
        local = name[len(ref.path) + 1 :] if ref is not None else name
        key = (ref.uid if ref is not None else "", local)
        grouped.setdefault(key, []).append(ref.layer if ref is not None else -1)
        refs.setdefault(key, ref)
    out = []
    for (uid, local), layers in list(grouped.items())[:MAX_PER_CHECK]:
        ref = refs[(uid, local)]
        label = f"{uid}.{local}" if uid else local
        blocks = [str(i) for i in sorted(set(layers)) if i >= 0]
        plural = "s" if len(blocks) > 1 else ""
        where = f" (in block{plural} {', '.join(blocks)})" if blocks else ""
        out.append(ctx.finding(check, f"{noun} {label}{where} {what}", hint, ref=ref))
    if len(grouped) > MAX_PER_CHECK:
        rest = len(grouped) - MAX_PER_CHECK
        out.append(ctx.finding(check, f"... and {rest} more {noun}s like these", hint))
    return out
