"""What must stay as it was while the runtime stages run: the process the design runs in
(``tamper.py``: torch, math, builtins and Genesys unpatched) and the model's parameters and
buffers once it is built (none created, replaced or removed by a forward call).

``run_stages`` makes one ``Integrity`` before the build stage, which is where design code first
runs (the child only parses the design's files before that), and asks it after the build and
forward stages and once more at the end. Each change it sees is an error finding, reported
once.
"""

from __future__ import annotations

import re
from typing import Any

from genesys_tui.checker import tamper
from genesys_tui.checker.context import RuntimeContext, per_parameter
from genesys_tui.checker.locate import Place
from genesys_tui.checker.report import Finding

MAX_NAMES = 8  # changed names listed in one tamper finding; the rest are counted

TAMPER_HINT = (
    "never assign to attributes of torch, math, builtins or Genesys (their functions, classes "
    "and methods), and leave no torch mode, global hook, trace function or thread behind: a "
    "unit computes on its own parameters and inputs, and the loss and the checker's verdict "
    "must stay the ones Genesys computes"
)
LATE_HINT = (
    "create every parameter, buffer and submodule in __init__ (nn.Parameter, register_buffer, "
    "nn.Linear ... assigned to self); forward only computes: a parameter made later is "
    "missed by the optimizer, the parameter budget and the checks run at build time"
)


class Integrity:
    """Snapshots taken at creation (the process) and after the build stage (the model)."""

    def __init__(self, ctx: RuntimeContext) -> None:
        self.ctx = ctx
        self.before = tamper.snapshot()
        self.compare, self.code = tamper.changed, tamper.changed.__code__
        self.tensors: dict[str, dict[str, Any]] | None = None
        self.reported: set[str] = set()

    def after(self, stage: str) -> list[Finding]:
        """Error findings for what changed since the snapshots, seen after ``stage``."""
        out = self._tamper(stage)
        model = self.ctx.model
        if self.tensors is None:
            if model is not None:
                self.tensors = _tensors(model)
        elif model is not None:
            out += self._late(stage, _tensors(model))
        return out

    def _tamper(self, stage: str) -> list[Finding]:
        if self.compare.__code__ is not self.code:
            names = ["genesys_tui.checker.tamper.changed (the tamper check itself)"]
        else:
            names = self.compare(self.before)
        names = [n for n in names if n not in self.reported]
        if not names:
            return []
        self.reported.update(names)
        shown = ", ".join(names[:MAX_NAMES])
        if len(names) > MAX_NAMES:
            shown += f" and {len(names) - MAX_NAMES} more"
        message = (
            f"code run in the {stage} stage changed {len(names)} thing(s) the design does not "
            f"own: {shown}; with them changed, the design could compute the loss or the "
            "checker's verdict itself"
        )
        return [self.ctx.finding("tamper", message, TAMPER_HINT, place=_place(self.ctx, names))]

    def _late(self, stage: str, now: dict[str, dict[str, Any]]) -> list[Finding]:
        assert self.tensors is not None
        out: list[Finding] = []
        for noun, before in self.tensors.items():
            current = now[noun]
            kinds = (
                ("appeared", [n for n in current if n not in before]),
                ("was replaced by a new tensor", [n for n in current
                                                  if n in before and current[n] is not before[n]]),
                ("disappeared", [n for n in before if n not in current]),
            )  # fmt: skip
            for what, names in kinds:
                names = [n for n in names if f"{noun}:{what}:{n}" not in self.reported]
                self.reported.update(f"{noun}:{what}:{n}" for n in names)
                if names:
                    what = f"{what} after the model was built (seen after the {stage} stage)"
                    out += per_parameter(self.ctx, names, "late_parameter", what, LATE_HINT, noun)
        return out


def _tensors(model: Any) -> dict[str, dict[str, Any]]:
    return {"parameter": dict(model.named_parameters()), "buffer": dict(model.named_buffers())}


def _place(ctx: RuntimeContext, names: list[str]) -> Place | None:
    """The first line of unit code that names an attribute that changed, if any does."""
    attrs = {n.split(" ")[0].rsplit(".", 1)[-1] for n in names}
    patterns = [re.compile(rf"\b{re.escape(a)}\b") for a in sorted(attrs) if a.isidentifier()]
    units = {node.file: uid for uid, node in ctx.design.units.items()}
    for rel in sorted(units):
        for number, line in enumerate(ctx.design.sources[rel].splitlines(), start=1):
            if any(p.search(line) for p in patterns):
                return Place(rel, number, line.rstrip(), units[rel])
    return None
