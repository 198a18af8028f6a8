"""The parent side of a walled process: a ``Cell`` runs one job inside the wall (the pool that
hands cells out is ``pool.py``).

A cell is started before its job is known: the process imports its modules (``enter.py``) and
waits on stdin. ``Cell.run`` sends the job, relays the job's events and answers its questions,
and returns an ``Outcome``: the job's value, its error, or what happened to the process (a
timeout, a crash, a kill). The parent never waits unbounded and never trusts a line: messages
are size-bounded JSON lines from the cell's private stdout; anything else ends the cell.
Each cell has its own scratch directory, removed with the cell; the whole process tree is
killed when the job ends, whatever it started, and the job has ended only once every process of
it is gone: bubblewrap's outer process can exit while the sandbox's init is still killing what
the design started (``Cell.kill``).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from genesys_tui.wall.bwrap import Limits, Wall

#: Largest message a cell may send (a whole rung result with its logits sample fits easily).
MAX_MESSAGE = 256 << 20
STDERR_TAIL = 64 << 10
#: How long ``Cell.kill`` waits for the cell's processes to be gone before it gives up.
KILL_WAIT_S = 30.0

EventFn = Callable[[dict[str, Any]], Any]  # returning STOP ends the job ("stopped")
#: What an event subscriber returns to end the job now (the coordinator's decision, e.g. a
#: training run stopped early because it is losing); the outcome's status is "stopped".
STOP = "stop"
AskFn = Callable[[dict[str, Any]], Any]


#: Cells' scratch directories are named SCRATCH_PREFIX<pid of the process that started them>-...
SCRATCH_PREFIX = "genesys-cell-"


@dataclass(frozen=True)
class CellSpec:
    """What a cell is started with; cells of one spec are interchangeable spares."""

    preload: tuple[str, ...] = ()
    limits: Limits = field(default_factory=Limits)
    gpu: bool = False
    read_only: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    hidden: tuple[str, ...] = ()  # paths that read as empty inside (``Wall.command``)


@dataclass
class Outcome:
    """How a job in a cell ended. ``status``: "return" (``value`` holds what the job
    returned), "raise" (the job raised: ``error``, ``traceback``), "timeout", "died" (the
    process ended without an answer: ``exitcode``), "startup" (it never became ready) or
    "stopped" (an event subscriber returned STOP)."""

    status: str
    value: Any = None
    error: str = ""
    traceback: str = ""
    exitcode: int | None = None
    stderr: str = ""
    seconds: float = 0.0
    ready_seconds: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)
    collected: Path | None = None  # what the job left for its caller (``Cell.run``'s collect)

    @property
    def ok(self) -> bool:
        return self.status == "return"


_SPAWNERS: dict[int, concurrent.futures.ThreadPoolExecutor] = {}  # by process id: a fork's own
_SPAWNERS_LOCK = threading.Lock()


def _spawn(cmd: list[str], **popen: Any) -> subprocess.Popen[bytes]:
    """``subprocess.Popen(cmd, **popen)``, run on one thread that lives as long as the process.

    Bubblewrap's ``--die-with-parent`` kills the sandbox when the *thread* that started it
    ends, not the process: a spare cell that a worker thread started, and another thread took,
    died in the middle of that thread's job as soon as the worker finished its own. Started
    from this one thread, every cell dies with the process, as meant, and with nothing else.
    """
    with _SPAWNERS_LOCK:
        spawner = _SPAWNERS.get(os.getpid())
        if spawner is None:  # a forked child has none of its parent's threads
            spawner = _SPAWNERS[os.getpid()] = concurrent.futures.ThreadPoolExecutor(
                1, thread_name_prefix="genesys-cell-spawner")  # fmt: skip
    return spawner.submit(subprocess.Popen, cmd, **popen).result()


class Cell:
    """One walled process for one job."""

    def __init__(self, wall: Wall, spec: CellSpec, root: str | None = None) -> None:
        self.wall, self.spec = wall, spec
        prefix = f"{SCRATCH_PREFIX}{os.getpid()}-"  # whose it is: see sweep_stale
        self.scratch = Path(tempfile.mkdtemp(prefix=prefix, dir=root)).resolve()
        (self.scratch / "tmp").mkdir()
        self.stderr_path = self.scratch / "stderr.txt"
        argv = [sys.executable, "-m", "genesys_tui.wall.enter", *spec.preload]
        cmd = wall.command(argv, self.scratch, spec.limits, spec.gpu, spec.read_only,
                           spec.hidden)
        self.started = time.monotonic()
        with self.stderr_path.open("wb") as err:
            self.proc = _spawn(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                env=wall.env(dict(spec.env), self.scratch), start_new_session=True,
                close_fds=True, cwd=self.scratch,
            )  # fmt: skip
        self._messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._ready_at: float | None = None
        self._closed = False
        self._inside: list[psutil.Process] = []  # the processes below bubblewrap's outer one
        threading.Thread(target=self._read, name="genesys-cell-reader", daemon=True).start()

    # ---- the cell's messages ------------------------------------------------------------------

    def _read(self) -> None:
        assert self.proc.stdout is not None
        try:
            while True:
                line = self.proc.stdout.readline(MAX_MESSAGE)
                if not line:
                    break
                if not line.endswith(b"\n"):  # longer than allowed: the cell is misbehaving
                    self._messages.put({"type": "garbage", "why": "a message over the size limit"})
                    break
                try:
                    message = json.loads(line)
                except (ValueError, UnicodeDecodeError):
                    self._messages.put({"type": "garbage", "why": "a line that is not JSON"})
                    break
                if isinstance(message, dict):
                    self._messages.put(message)
        except (OSError, ValueError):
            pass
        self._messages.put(None)

    def _next(self, deadline: float) -> dict[str, Any] | str | None:
        """The next message, None at the end of the stream, or "timeout"."""
        left = deadline - time.monotonic()
        if left <= 0:
            return "timeout"
        try:
            return self._messages.get(timeout=left)
        except queue.Empty:
            return "timeout"

    def wait_ready(self, timeout: float) -> bool:
        if self._ready_at is not None:
            return True
        message = self._next(time.monotonic() + timeout)
        if isinstance(message, dict) and message.get("type") == "ready":
            self._ready_at = time.monotonic()
            self._inside = self._descendants()
            return True
        return False

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None and not self._closed

    # ---- running a job ------------------------------------------------------------------------

    def run(
        self,
        func: str,
        kwargs: Mapping[str, Any],
        on_event: EventFn | None = None,
        on_ask: AskFn | None = None,
        timeout: float = 3600.0,
        ready_timeout: float = 120.0,
        collect: str = "",
    ) -> Outcome:
        """Run ``func`` (``"module:function"``) with ``kwargs`` in this cell; the cell is
        finished (killed, its scratch kept until ``close``) when this returns. ``collect``: a
        subdirectory of scratch whose plain files a job that returned leaves to the caller,
        taken only once every process of the cell is dead (``Outcome.collected``; the caller
        removes it)."""
        try:
            outcome = self._job(func, kwargs, on_event, on_ask, timeout, ready_timeout)
        finally:
            self.kill()
        if collect and outcome.ok:
            outcome.collected = self._take(collect)
        return outcome

    def _job(self, func: str, kwargs: Mapping[str, Any], on_event: EventFn | None,
             on_ask: AskFn | None, timeout: float, ready_timeout: float) -> Outcome:  # fmt: skip
        t0 = time.monotonic()
        if not self.wait_ready(ready_timeout):
            return self._end("startup", t0, error="the sandboxed process did not start")
        ready = time.monotonic() - t0  # what this job waited for the cell's imports
        self._write({"func": func, "kwargs": dict(kwargs)})
        deadline = time.monotonic() + timeout
        while True:
            message = self._next(deadline)
            if message == "timeout":
                return self._end("timeout", t0, ready, error=f"timed out after {timeout:.0f} s")
            if message is None or message.get("type") == "garbage":
                why = "" if message is None else str(message.get("why"))
                return self._end("died", t0, ready, error=why)
            kind = message.get("type")
            if (
                kind == "event"
                and on_event is not None
                and isinstance(message.get("event"), dict)
            ):
                verdict = None
                with contextlib.suppress(Exception):  # a broken subscriber must not end the job
                    verdict = on_event(message["event"])
                if verdict == STOP:
                    return self._end("stopped", t0, ready, error="stopped by the caller")
            elif kind == "ask":
                answer = on_ask(message.get("question") or {}) if on_ask else None
                self._write(answer)
            elif kind == "return":
                return self._end("return", t0, ready, value=message.get("value"))
            elif kind == "raise":
                return self._end("raise", t0, ready, error=str(message.get("error", "")),
                                 traceback=str(message.get("traceback", "")))  # fmt: skip

    def _take(self, name: str) -> Path | None:
        """Move the plain files of scratch/``name`` (no links, no subdirectories) to a new
        directory under ``taken_root`` (swept like the scratch directories if this process
        dies)."""
        source = self.scratch / name
        if source.is_symlink() or not source.is_dir():
            return None
        root = taken_root(str(self.scratch.parent))
        root.mkdir(mode=0o700, exist_ok=True)
        taken = Path(tempfile.mkdtemp(dir=root))
        with os.scandir(source) as entries:
            for entry in entries:
                if entry.is_file(follow_symlinks=False):
                    os.rename(entry.path, taken / entry.name)
        return taken

    def _write(self, message: Any) -> None:
        assert self.proc.stdin is not None
        with contextlib.suppress(BrokenPipeError, OSError):
            self.proc.stdin.write(json.dumps(message).encode() + b"\n")
            self.proc.stdin.flush()

    def _end(self, status: str, t0: float, ready: float = 0.0, **kw: Any) -> Outcome:
        if status != "return" and status != "raise":
            self.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5.0)
        return Outcome(status, exitcode=self._exitcode(), stderr=self.stderr_tail(),
                       seconds=time.monotonic() - t0, ready_seconds=ready, **kw)  # fmt: skip

    def _exitcode(self) -> int | None:
        """The job's exit status; a death by signal as minus the signal, as subprocess gives
        it (bubblewrap reports its child's signal as 128 + the signal)."""
        code = self.proc.returncode
        if code is not None and self.wall.sandboxed and 128 < code < 128 + 65:
            return -(code - 128)
        return code

    def stderr_tail(self) -> str:
        try:
            with self.stderr_path.open("rb") as fh:
                fh.seek(max(0, self.stderr_path.stat().st_size - STDERR_TAIL))
                return fh.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def kill(self) -> None:
        """End the cell's whole process tree and return once every process of it is gone.

        Killing bubblewrap's outer process is not enough: the sandbox's init (and the job below
        it) sits in a session of its own and dies of the outer one's death only later, and on a
        job's normal end the outer process exits as soon as the init reports the job's status,
        while the init is still killing what the job left running. The init is recorded when
        the cell becomes ready, killed here too, and waited for: the kernel ends every process
        of a PID namespace before its init exits.
        """
        inside = self._inside + (self._descendants() if self.proc.poll() is None else [])
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                self.proc.kill()
        for process in inside:
            with contextlib.suppress(psutil.Error):
                process.kill()  # psutil checks that the pid is still this process
        with contextlib.suppress(Exception):
            self.proc.wait(5.0)
        _wait_gone(inside, KILL_WAIT_S)

    def _descendants(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.Error:
            return []

    def close(self) -> None:
        """Kill the cell and remove its scratch directory."""
        self._closed = True
        self.kill()
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(Exception):
                stream.close()  # type: ignore[union-attr]
        shutil.rmtree(self.scratch, ignore_errors=True)


def taken_root(root: str | None = None) -> Path:
    """Where this process keeps what its cells left it (``Cell.run``'s collect), one directory
    per job: a cell that reads such files binds this directory, the same for every job, so a
    warm spare serves the next one."""
    return Path(root or tempfile.gettempdir()).resolve() / f"{SCRATCH_PREFIX}{os.getpid()}-taken"


def _wait_gone(processes: list[psutil.Process], timeout: float) -> bool:
    """Wait until each process has exited (a zombie counts: it runs nothing), at most
    ``timeout`` seconds; whether they all did."""
    deadline = time.monotonic() + timeout
    left = processes
    while True:
        left = [p for p in left if _running(p)]
        if not left or time.monotonic() > deadline:
            return not left
        time.sleep(0.005)


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
