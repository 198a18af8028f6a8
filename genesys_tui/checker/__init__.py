"""The symbolic checker: static and sandboxed runtime checks that reject broken or cheating
designs before they cost any training.

    from genesys_tui.checker import check_design
    report = check_design("library/gpt")          # a path, a library name or a Design
    report.ok, report.findings, report.to_json(), report.format_for_agent()

Stages run cheapest first and stop after the first stage with an error: ``load`` (design.json
and the unit files), ``static`` (the syntax tree of each unit file: imports, calls, module-level
code, slots), then in a sandboxed child process ``build``, ``forward``, ``params``,
``determinism``, ``causality``, ``gradients``, ``numerics``, ``overfit`` and ``speed``; after the
build and forward stages and at the end, nothing outside the design may have been patched
(``tamper``) and the model's parameters and buffers must be the ones built (``late_parameter``).
Importing this package imports no torch: only the child does.
"""

from __future__ import annotations

import time
from pathlib import Path

from genesys_tui.checker.report import ERROR, WARNING, CheckReport, Finding
from genesys_tui.checker.settings import (
    RUNTIME_STAGES,
    CheckConfig,
    budget_model_config,
    tiny_model_config,
)
from genesys_tui.checker.static import check_static
from genesys_tui.design import DESIGN_FILE, Design, load_design
from genesys_tui.errors import CheckError, DesignError

__all__ = [
    "ERROR",
    "RUNTIME_STAGES",
    "WARNING",
    "CheckConfig",
    "CheckReport",
    "Finding",
    "check_design",
    "check_load",
    "check_runtime",
    "check_static",
]


def check_load(path: str | Path) -> tuple[Design | None, list[Finding]]:
    """Load the design at ``path``: (design, []) or (None, [a ``load`` or ``parse`` finding]).

    Raises CheckError when there is no design there at all (a usage error, not a rejection).
    """
    p = Path(path)
    try:
        return load_design(p), []
    except DesignError as exc:
        if not (p / DESIGN_FILE).is_file() and not (p.name == DESIGN_FILE and p.is_file()):
            raise CheckError(str(exc)) from None
        rel = _relative(exc.path, p)
        check = "parse" if exc.field == "source" else "load"
        where = f" [{exc.field}]" if exc.field and check == "load" else ""
        hint = (
            "fix design.json or the unit file as the message says; `genesys show` prints a "
            "valid design's tree for comparison"
        )
        return None, [Finding(check, ERROR, f"{exc.reason}{where}", hint, "load", rel)]


def _relative(path: str | None, base: Path) -> str | None:
    if path is None:
        return None
    try:
        return Path(path).resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return path


def check_runtime(design: Design, config: CheckConfig | None = None, rung: str | None = None
                  ) -> tuple[list[Finding], dict[str, float], dict[str, object]]:  # fmt: skip
    """Only the runtime stages, in a sandboxed child: (findings, seconds per stage, figures).

    No static check runs first: this is the sandbox's own entry point (the evolution loop and
    the tests use it to exercise the sandbox on code the static checks would have stopped).
    """
    from genesys_tui.checker.sandbox import run_sandboxed

    config = config or CheckConfig()
    budget = budget_model_config(config, rung)
    result = run_sandboxed(design, config, tiny_model_config(design, config), budget, rung)
    return result.findings, result.stages, result.figures


def check_design(design: str | Path | Design, rung: str | None = None,
                 config: CheckConfig | None = None) -> CheckReport:  # fmt: skip
    """Check ``design`` (a directory, a library design's name, or a loaded Design).

    ``rung`` names a rung of the built-in ladders to size the parameter budget for. Returns a
    CheckReport whether the design passes or not; raises CheckError only when the checker
    cannot run (no design at that path, the child process cannot start) and ConfigError for an
    unknown rung.
    """
    config = config or CheckConfig()
    t0 = time.perf_counter()
    stages: dict[str, float] = {}
    budget_model_config(config, rung)  # an unknown rung is a usage error: raise it first
    if isinstance(design, Design):
        loaded: Design | None = design
        findings: list[Finding] = []
    else:
        loaded, findings = check_load(design)
    stages["load"] = time.perf_counter() - t0
    name = loaded.name if loaded is not None else Path(design).name  # type: ignore[arg-type]
    figures: dict[str, object] = {}
    if loaded is not None:
        t1 = time.perf_counter()
        findings += check_static(loaded)
        stages["static"] = time.perf_counter() - t1
        if not any(f.is_error for f in findings):
            found, timed, figures = check_runtime(loaded, config, rung)
            findings += found
            stages.update(timed)
    return CheckReport(
        design=name,
        findings=tuple(findings),
        stages=stages,
        figures=figures,  # type: ignore[arg-type]
        rung=rung,
        seconds=time.perf_counter() - t0,
    )
