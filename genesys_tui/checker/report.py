"""What the checker found: ``Finding`` and ``CheckReport``, as data, JSON and agent-ready text.

A finding quotes the design's code and the messages of its exceptions, which a design controls:
every dict and text made here passes through the secrets redactor (``genesys_tui.redaction``),
so a registered API key never reaches a report, a note or an agent's prompt.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from genesys_tui.redaction import REDACT, redact_data

ERROR = "error"
WARNING = "warning"
SEVERITIES = (ERROR, WARNING)


@dataclass(frozen=True)
class Finding:
    """One thing the checker found wrong, written for a coder agent to act on.

    ``check`` is a stable identifier (``causality``, ``banned_import``, ...); ``stage`` the stage
    that found it; ``file`` and ``line`` point into the design (``units/mlp.py``, 1-based) when
    known; ``unit`` is the unit id in ``design.json``; ``code`` the source line at fault.
    """

    check: str
    severity: str
    message: str
    hint: str = ""
    stage: str = ""
    file: str | None = None
    line: int | None = None
    unit: str | None = None
    code: str | None = None

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    @property
    def location(self) -> str:
        """``units/mlp.py:12`` (or just the file, or empty when nothing is known)."""
        if self.file is None:
            return ""
        return f"{self.file}:{self.line}" if self.line is not None else self.file

    def to_dict(self) -> dict[str, Any]:
        """The finding as JSON-ready data, secrets redacted."""
        return redact_data({
            "check": self.check,
            "severity": self.severity,
            "message": self.message,
            "hint": self.hint,
            "stage": self.stage,
            "location": self.location,
            "file": self.file,
            "line": self.line,
            "unit": self.unit,
            "code": self.code,
        })  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        """Inverse of ``to_dict``; unknown keys (``location``) are ignored."""
        line = data.get("line")
        return cls(
            check=str(data["check"]),
            severity=str(data["severity"]),
            message=str(data["message"]),
            hint=str(data.get("hint") or ""),
            stage=str(data.get("stage") or ""),
            file=data.get("file"),
            line=int(line) if isinstance(line, int) else None,
            unit=data.get("unit"),
            code=data.get("code"),
        )

    def format(self) -> str:
        """Several lines: severity, check and place, the message, then how to fix it."""
        where = self.location
        if self.unit:
            where = f"{where} (unit {self.unit!r})" if where else f"unit {self.unit!r}"
        head = f"{self.severity.upper()} [{self.check}]" + (f" {where}" if where else "")
        lines = [head, f"  {self.message}"]
        if self.code:
            lines.append(f"  at: {self.code.strip()}")
        if self.hint:
            lines.append(f"  how to fix: {self.hint}")
        return REDACT("\n".join(lines))


@dataclass(frozen=True)
class CheckReport:
    """The checker's verdict on one design.

    ``ok`` is true when no finding is an error and every stage that was due ran. Stages run
    cheapest first and stop at the first stage with an error, so ``stages`` lists what ran, in
    order, with wall seconds. ``figures`` holds measurements (parameter counts, time and memory
    ratios against the reference) under stable names.
    """

    design: str
    findings: tuple[Finding, ...] = ()
    stages: Mapping[str, float] = field(default_factory=dict)
    figures: Mapping[str, float | int | str] = field(default_factory=dict)
    rung: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not any(f.is_error for f in self.findings)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.is_error]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if not f.is_error]

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data, secrets redacted."""
        return redact_data({
            "ok": self.ok,
            "design": self.design,
            "rung": self.rung,
            "seconds": round(self.seconds, 3),
            "findings": [f.to_dict() for f in self.findings],
            "stages": {k: round(v, 3) for k, v in self.stages.items()},
            "figures": dict(self.figures),
        })  # fmt: skip

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckReport:
        return cls(
            design=str(data.get("design", "")),
            findings=tuple(Finding.from_dict(f) for f in data.get("findings", [])),
            stages=dict(data.get("stages", {})),
            figures=dict(data.get("figures", {})),
            rung=data.get("rung"),
            seconds=float(data.get("seconds", 0.0)),
        )

    def format_for_agent(self) -> str:
        """The report as plain text a coder agent can act on: verdict, then each finding."""
        n_err, n_warn = len(self.errors), len(self.warnings)
        if self.ok:
            verdict = f"Design {self.design!r} passed the checker"
            verdict += f" with {n_warn} warning(s)." if n_warn else "."
        else:
            verdict = (
                f"Design {self.design!r} was rejected by the checker: {n_err} error(s), "
                f"{n_warn} warning(s). Fix the errors; the checker stops at the first stage "
                "with an error, so later stages have not run yet."
            )
        return REDACT("\n\n".join([verdict, *(f.format() for f in self.findings)]))

    def format_text(self, verbose: bool = False) -> str:
        """Human-readable report; ``verbose`` adds seconds per stage and the figures."""
        parts = [self.format_for_agent()]
        if verbose:
            rows = [f"  {name:<12} {sec:7.2f} s" for name, sec in self.stages.items()]
            rows.append(f"  {'total':<12} {self.seconds:7.2f} s")
            parts.append("time per stage (wall):\n" + "\n".join(rows))
            if self.figures:
                parts.append(
                    "figures:\n" + "\n".join(f"  {k}: {v}" for k, v in self.figures.items())
                )
        return REDACT("\n\n".join(parts))


def first_error(findings: Sequence[Finding]) -> Finding | None:
    """The first error among ``findings``, or None."""
    return next((f for f in findings if f.is_error), None)
