"""The parent side of the checker's sandbox: run ``child.serve_in_cell`` in a walled cell
(``genesys_tui.wall``), watch it, and turn whatever happens to it (a crash, a hang, an exit, a
memory kill) into findings.

The cell is a bubblewrap sandbox started warm by the wall's cell pool, which imports torch and
the checker before a check is asked for; each check then starts in a fraction of a second. The
parent stays light (no torch) and never waits unbounded: ``startup_timeout_s`` until the cell
is ready (before any design code runs), then ``timeout_s`` for the checks, after which the
cell's whole process tree is killed. Events arrive as bounded JSON lines; the cell's stderr
(with a faulthandler dump on a crash) goes to a file in its scratch directory whose tail is read
for a location.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field
from typing import Any

from genesys_tui.checker.locate import place_of_text, unit_filenames
from genesys_tui.checker.report import ERROR, Finding
from genesys_tui.checker.settings import CheckConfig
from genesys_tui.config import ModelConfig
from genesys_tui.design import Design
from genesys_tui.errors import CheckError

#: What a checker cell imports before it is handed a design.
PRELOAD = ("torch", "genesys_tui.checker.child")


@dataclass
class SandboxResult:
    """What came back from the child: findings, seconds per stage (``startup`` included),
    figures, and whether it finished."""

    findings: list[Finding] = field(default_factory=list)
    stages: dict[str, float] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    finished: bool = False


_SIGNALS = {
    signal.SIGSEGV: ("crash", "crashed with a segmentation fault (SIGSEGV)"),
    signal.SIGBUS: ("crash", "crashed with a bus error (SIGBUS)"),
    signal.SIGILL: ("crash", "crashed on an illegal instruction (SIGILL)"),
    signal.SIGFPE: ("crash", "crashed with a floating-point exception (SIGFPE)"),
    signal.SIGABRT: ("crash", "aborted (SIGABRT)"),
    signal.SIGXCPU: ("cpu_limit", "used up its CPU time (SIGXCPU)"),
    signal.SIGXFSZ: ("output_limit", "wrote more output than allowed (SIGXFSZ)"),
    signal.SIGKILL: ("memory_limit", "was killed (SIGKILL), most likely by the kernel for "
                     "using too much memory"),
}  # fmt: skip

_HINTS = {
    "crash": "native code crashed: remove ctypes and other native calls, and check index "
             "arithmetic passed to low-level ops",
    "cpu_limit": "a tiny model trains in seconds: look for loops that never end or grow with "
                 "T*T, and for recomputation inside loops",
    "output_limit": "do not print tensors or progress from forward",
    "memory_limit": "a tiny model needs a few MiB: look for tensors that grow with T*T*D or "
                    "a size computed from the wrong variable",
    "timeout": "look for a loop that never ends (a while loop whose condition never changes), "
               "a sleep, or work that grows much faster than T",
    "exit": "never exit the process (sys.exit, os._exit, exit): raise an exception instead",
}  # fmt: skip


def run_sandboxed(design: Design, config: CheckConfig, tiny: ModelConfig, budget: ModelConfig,
                  rung: str | None = None) -> SandboxResult:  # fmt: skip
    """Run the runtime stages on ``design`` in a walled cell and collect what it reports.

    Raises CheckError only when the cell could not even start (before any design code ran):
    that is the checker's environment failing, not the design. SandboxUnavailable (from
    ``wall.current``) when no sandbox can be made and the user did not pass --no-sandbox.
    """
    from genesys_tui import wall

    request = {
        "design": design.to_dict(),
        "sources": dict(design.sources),
        "path": str(design.path) if design.path is not None else None,
        "config": config.to_dict(),
        "tiny": _model_dict(tiny),
        "budget": _model_dict(budget),
        "rung": rung,
    }
    result = SandboxResult()
    watch = _Watch(result)
    outcome = wall.run_walled(
        wall.current(), wall.CellSpec(preload=PRELOAD), "genesys_tui.checker.child:serve_in_cell",
        {"request": request}, on_event=watch, ready_timeout=config.startup_timeout_s,
        timeout=config.timeout_s,
    )  # fmt: skip
    result.stages["startup"] = outcome.ready_seconds
    if not watch.armed:
        detail = (watch.internal or outcome.error + "\n" + outcome.stderr)[-2000:].strip()
        raise CheckError(
            "the checker's sandboxed process failed before running any design code "
            f"(startup limit {config.startup_timeout_s:.0f} s, exit status {outcome.exitcode})"
            + (f":\n{detail}" if detail else "")
        )
    if result.finished:
        return result
    result.stages.setdefault(watch.stage, time.monotonic() - watch.stage_start)
    result.findings.append(
        _death(design, config, outcome.exitcode, watch.stage, outcome.status == "timeout",
               watch.internal, outcome.stderr)
    )  # fmt: skip
    return result


class _Watch:
    """Collects a check cell's events into a SandboxResult, and where the checks got to."""

    def __init__(self, result: SandboxResult) -> None:
        self.result = result
        self.armed = False  # the guard is in place: design code may run from here on
        self.stage, self.stage_start = "startup", time.monotonic()
        self.internal: str | None = None

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "armed":
            self.armed = True
            self.stage, self.stage_start = "load", time.monotonic()
        elif kind == "stage":
            self.stage, self.stage_start = str(event.get("stage")), time.monotonic()
        elif kind == "stage_done":
            self.result.stages[str(event.get("stage"))] = float(event.get("seconds", 0.0))
        elif kind == "finding":
            found = _finding(event)
            if found is not None:
                self.result.findings.append(found)
        elif kind == "figures" and isinstance(event.get("figures"), dict):
            self.result.figures.update(event["figures"])
        elif kind == "internal":
            self.internal = str(event.get("traceback", ""))
        elif kind == "done":
            self.result.finished = True


def _model_dict(m: ModelConfig) -> dict[str, Any]:
    return {"d_model": m.d_model, "n_layers": m.n_layers, "vocab_size": m.vocab_size,
            "context_length": m.context_length, "dropout": m.dropout}  # fmt: skip


def _finding(event: dict[str, Any]) -> Finding | None:
    try:
        return Finding.from_dict(event)
    except (KeyError, ValueError, TypeError):
        return None


def _death(design: Design, config: CheckConfig, exitcode: int | None, stage: str,
           timed_out: bool, internal: str | None, stderr: str) -> Finding:  # fmt: skip
    place = place_of_text(stderr, unit_filenames(design), design.sources)
    if timed_out:
        check = "timeout"
        message = (
            f"the checks did not finish within {config.timeout_s:.0f} s: stopped in "
            f"stage {stage!r} and killed"
        )
    elif internal is not None:
        last = internal.strip().splitlines()[-1] if internal.strip() else "unknown error"
        return Finding(
            "checker_internal",
            ERROR,
            f"the checker failed in stage {stage!r}: {last}",
            "this is a checker bug or a design that broke the checker's "
            "own code; the traceback follows: " + internal[-1500:],
            stage,
        )
    elif exitcode is not None and exitcode < 0 and -exitcode in _SIGNALS:
        check, what = _SIGNALS[signal.Signals(-exitcode)]
        message = f"the child process running the checks {what} in stage {stage!r}"
    elif exitcode is not None and exitcode < 0:
        check = "crash"
        message = f"the child process was killed by signal {-exitcode} in stage {stage!r}"
    else:
        check = "exit"
        message = (
            f"the child process exited with status {exitcode} in stage {stage!r} "
            "before finishing the checks"
        )
    if place is not None:
        return Finding(
            check,
            ERROR,
            message,
            _HINTS.get(check, ""),
            stage,
            place.file,
            place.line,
            place.unit,
            place.code,
        )
    return Finding(check, ERROR, message, _HINTS.get(check, ""), stage)
