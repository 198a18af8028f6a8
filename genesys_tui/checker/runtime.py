"""The runner of the runtime stages inside the sandboxed child.

Every stage is a function ``RuntimeContext -> list[Finding]`` (``context.py``); ``run_stages``
runs them cheapest first (RUNTIME_STAGES), stamps each finding with its stage, streams events to
the parent and stops after the first stage with an error. The stages live in modules of their
own: ``model_checks`` (build, forward, gradients, numerics), ``budget`` (params), ``causality``,
``learning`` (determinism, overfit) and ``perf`` (speed and memory). ``integrity`` watches
around them: nothing outside the design may be patched (``tamper``), and the model's parameters
and buffers must stay the ones built, checked after the build and forward stages and at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from genesys_tui.checker.budget import stage_params
from genesys_tui.checker.causality import stage_causality
from genesys_tui.checker.context import RuntimeContext, exception_finding, violation_findings
from genesys_tui.checker.decoding import stage_decoding
from genesys_tui.checker.guard import Guard
from genesys_tui.checker.integrity import Integrity
from genesys_tui.checker.learning import stage_determinism, stage_overfit
from genesys_tui.checker.model_checks import (
    stage_build,
    stage_forward,
    stage_gradients,
    stage_numerics,
)
from genesys_tui.checker.perf import stage_speed
from genesys_tui.checker.report import Finding
from genesys_tui.checker.settings import RUNTIME_STAGES

StageFn = Callable[[RuntimeContext], list[Finding]]


def stage_functions() -> dict[str, StageFn]:
    """Stage name -> function, in RUNTIME_STAGES order."""
    table: dict[str, StageFn] = {
        "build": stage_build, "forward": stage_forward, "params": stage_params,
        "causality": stage_causality, "decoding": stage_decoding,
        "gradients": stage_gradients,
        "numerics": stage_numerics, "determinism": stage_determinism,
        "overfit": stage_overfit, "speed": stage_speed,
    }  # fmt: skip
    return {name: table[name] for name in RUNTIME_STAGES}


def run_stages(ctx: RuntimeContext, guard: Guard, emit: Callable[[dict[str, Any]], None]
               ) -> list[Finding]:  # fmt: skip
    """Run every stage not skipped, cheapest first; emit events; stop after an error stage.

    Events: ``{"type": "stage", "stage"}`` when a stage starts, ``{"type": "finding", ...}``
    per finding, ``{"type": "stage_done", "stage", "seconds"}``, ``{"type": "figures", ...}``.
    The integrity snapshot is taken first: the build stage is where design code first runs.
    """
    integrity = Integrity(ctx)
    found: list[Finding] = []
    last = ""
    for name, fn in stage_functions().items():
        if name in ctx.config.skip:
            continue
        emit({"type": "stage", "stage": name})
        t0, seen = time.perf_counter(), len(guard.violations)
        try:
            findings = fn(ctx)
        except BaseException as exc:  # unit code may raise anything, even SystemExit
            findings = [exception_finding(ctx, exc, name, f"the {name} stage")]
        violations = violation_findings(ctx, guard, seen)
        if violations:  # the recorded refusal says more than the exception it raised
            findings = violations + [f for f in findings if "SandboxViolation" not in f.message]
        disarmed = guard.intact()
        if disarmed is not None:
            findings.append(ctx.finding(
                "tamper", f"the unit code switched off the checker's guard: {disarmed}",
                "a model only computes on tensors: leave the checker's objects alone",
            ))  # fmt: skip
        if name in ("build", "forward"):
            findings += integrity.after(name)
        found += _stamped(findings, name, emit)
        emit({"type": "stage_done", "stage": name, "seconds": time.perf_counter() - t0})
        last = name
        if any(f.is_error for f in found):
            break
    if last:  # also after an error: a patch made before it still counts
        found += _stamped(integrity.after(last), last, emit)
    emit({"type": "figures", "figures": ctx.figures})
    return found


def _stamped(findings: list[Finding], stage: str, emit: Callable[[dict[str, Any]], None]
             ) -> list[Finding]:  # fmt: skip
    """``findings`` stamped with ``stage``, each emitted as an event."""
    out = [
        Finding(f.check, f.severity, f.message, f.hint, stage, f.file, f.line, f.unit, f.code)
        for f in findings
    ]
    for f in out:
        emit({"type": "finding", **f.to_dict()})
    return out
