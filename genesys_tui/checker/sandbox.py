"""The parent side of the sandbox: run ``child.serve`` in a process of its own, watch it, and
turn whatever happens to it (a crash, a hang, an exit, a memory kill) into findings.

The child is forked by multiprocessing's fork server, which imports torch once per parent
process; each check then starts in a fraction of a second. The parent stays light (no torch)
and never waits unbounded: ``startup_timeout_s`` until the child reports ready (before any
design code runs), then ``timeout_s`` for the checks, after which the child's whole process
group is killed. Events arrive as JSON over a pipe, bounded in size; the child's stderr (with a
faulthandler dump on a crash) goes to a temporary file whose tail is read for a location.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import multiprocessing.process
import os
import signal
import tempfile
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.context import ForkServerContext
from pathlib import Path
from typing import Any

from genesys_tui.checker.locate import place_of_text, unit_filenames
from genesys_tui.checker.report import ERROR, Finding
from genesys_tui.checker.settings import CheckConfig
from genesys_tui.config import ModelConfig
from genesys_tui.design import Design
from genesys_tui.errors import CheckError

MAX_EVENT_BYTES = 1 << 20  # one event from the child; more is garbage and ends the watch
STDERR_TAIL = 64 << 10  # bytes of the child's stderr read back for a crash location

_CONTEXT: ForkServerContext | None = None
_CONTEXT_LOCK = threading.Lock()


def _mp_context() -> ForkServerContext:
    global _CONTEXT
    with _CONTEXT_LOCK:
        if _CONTEXT is None:
            ctx = multiprocessing.get_context("forkserver")
            assert isinstance(ctx, ForkServerContext)
            # Preloading matters only to a fork server this process has not started yet; if one
            # runs already, children import the checker (and torch) themselves: slower, same.
            ctx.set_forkserver_preload(["genesys_tui.checker.child"])
            _CONTEXT = ctx
    return _CONTEXT


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
    """Run the runtime stages on ``design`` in a sandboxed child and collect what it reports.

    Raises CheckError only when the child could not even start (before any design code ran):
    that is the checker's environment failing, not the design.
    """
    with tempfile.TemporaryDirectory(prefix="genesys-check-") as tmp:
        stderr_path = Path(tmp) / "stderr.txt"
        stderr_path.touch()
        request = json.dumps({
            "design": design.to_dict(),
            "sources": dict(design.sources),
            "path": str(design.path) if design.path is not None else None,
            "config": config.to_dict(),
            "tiny": _model_dict(tiny),
            "budget": _model_dict(budget),
            "rung": rung,
            "stderr_path": str(stderr_path),
        }).encode()  # fmt: skip
        return _watch(design, config, request, stderr_path)


def _model_dict(m: ModelConfig) -> dict[str, Any]:
    return {"d_model": m.d_model, "n_layers": m.n_layers, "vocab_size": m.vocab_size,
            "context_length": m.context_length, "dropout": m.dropout}  # fmt: skip


def _watch(design: Design, config: CheckConfig, request: bytes, stderr_path: Path
           ) -> SandboxResult:  # fmt: skip
    ctx = _mp_context()
    reader, writer = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_serve, args=(request, writer), name="genesys-check", daemon=True)
    result = SandboxResult()
    start = time.monotonic()
    proc.start()
    writer.close()  # the child holds the only writer: its death closes the pipe
    deadline = start + config.startup_timeout_s
    ready_at: float | None = None
    stage = "startup"
    stage_start = start
    timed_out = False
    internal = None
    try:
        while True:
            now = time.monotonic()
            if now >= deadline:
                timed_out = True
                break
            if not reader.poll(min(0.2, deadline - now)):
                if not proc.is_alive() and not reader.poll(0.05):
                    break
                continue
            try:
                raw = reader.recv_bytes(MAX_EVENT_BYTES)
            except (EOFError, OSError):
                break
            event = _parse(raw)
            if event is None:
                continue
            kind = event.get("type")
            if kind == "ready" and ready_at is None:
                ready_at = time.monotonic()
                result.stages["startup"] = ready_at - start
                deadline = ready_at + config.timeout_s
            elif kind == "stage":
                stage, stage_start = str(event.get("stage")), time.monotonic()
            elif kind == "stage_done":
                result.stages[str(event.get("stage"))] = float(event.get("seconds", 0.0))
            elif kind == "finding":
                found = _finding(event)
                if found is not None:
                    result.findings.append(found)
            elif kind == "figures" and isinstance(event.get("figures"), dict):
                result.figures.update(event["figures"])
            elif kind == "internal":
                internal = str(event.get("traceback", ""))
            elif kind == "done":
                result.finished = True
    finally:
        _kill_group(proc)
        reader.close()
    if ready_at is None:
        why = "failed" if internal or proc.exitcode is not None else "did not start"
        detail = (internal or _tail(stderr_path))[-2000:].strip()
        raise CheckError(
            f"the checker's child process {why} before running any design code "
            f"(startup limit {config.startup_timeout_s:.0f} s, exit status {proc.exitcode})"
            + (f":\n{detail}" if detail else "")
        )
    if result.finished:
        return result
    result.stages.setdefault(stage, time.monotonic() - stage_start)
    result.findings.append(
        _death(design, config, proc.exitcode, stage, timed_out, internal, _tail(stderr_path))
    )
    return result


def _serve(request: bytes, conn: Any) -> None:
    # The child's entry point, importable without torch so the parent never loads it.
    from genesys_tui.checker.child import serve

    serve(request, conn)


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        event = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return event if isinstance(event, dict) else None


def _finding(event: dict[str, Any]) -> Finding | None:
    try:
        return Finding.from_dict(event)
    except (KeyError, ValueError, TypeError):
        return None


def _kill_group(proc: multiprocessing.process.BaseProcess) -> None:
    pid = proc.pid
    if pid is not None and proc.is_alive():
        # The child made itself a process-group leader (setsid): this also ends anything it
        # started that the sandbox let through.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        proc.kill()
    proc.join(5.0)


def _tail(path: Path) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(max(0, path.stat().st_size - STDERR_TAIL))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


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
