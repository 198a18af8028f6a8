"""The sandbox inside the child process: an audit hook and exit traps.

Installed after torch is imported and before any unit code runs, it refuses what no model
should do: write or delete files, open sockets, start or signal processes, call native code
through ctypes, change resource limits, exit the process. A refusal raises SandboxViolation in
the offending code *and* is recorded, so a unit that swallows the exception is still reported.
Reading is allowed only under the Python installation, the import path (torch imports lazily
and reads its own files while it runs), the scratch directory and a few system paths.

This is the first, fast layer: the operating-system wall around the whole process (the cell,
``genesys_tui.wall``) is the boundary; resource limits and the wall-clock timeout are the
backstop.
"""

from __future__ import annotations

import builtins
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC

_PROCESS_EVENTS = frozenset(
    {"os.fork", "os.forkpty", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
     "subprocess.Popen", "os.kill", "os.killpg", "pty.spawn", "os.startfile",
     "signal.pthread_kill"}
)  # fmt: skip

_FILE_EVENTS = frozenset(
    {"os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.link",
     "os.symlink", "os.truncate", "os.utime", "os.chflags", "os.lchflags", "os.lchmod",
     "os.lchown", "os.mkfifo", "os.mknod", "os.setxattr", "os.removexattr", "os.chdir",
     "resource.setrlimit", "resource.prlimit"}
)  # fmt: skip

_REFUSED_PREFIXES = ("socket.", "ctypes.", "shutil.", "tempfile.", "urllib.", "http.",
                     "ftplib.", "smtplib.", "webbrowser.")  # fmt: skip


#: Files and directories unit code may read besides the Python installation, the import path
#: and the process's scratch directory: system libraries, and what torch reads about the machine.
_READABLE = ("/usr", "/lib", "/lib64", "/lib32", "/proc/self", "/proc/thread-self",
             "/proc/cpuinfo", "/proc/meminfo", "/sys/devices/system/cpu", "/sys/fs/cgroup",
             "/dev/null", "/dev/urandom", "/dev/shm", "/etc/ld.so.cache",
             "/etc/localtime")  # fmt: skip


def read_roots() -> tuple[str, ...]:
    """Where a design may read: the interpreter's prefixes, the import path, the current and
    temporary directories (a cell's scratch) and the system paths of ``_READABLE``."""
    roots = [sys.prefix, sys.base_prefix, sys.exec_prefix, os.getcwd(), *_READABLE]
    roots += [p for p in sys.path if p and os.path.isabs(p)]
    if os.environ.get("TMPDIR"):
        roots.append(os.environ["TMPDIR"])
    return tuple(sorted({os.path.realpath(r) for r in roots}))


def read_refusal(path: Any, roots: Sequence[str]) -> str | None:
    """Why reading ``path`` (an ``open`` event's first argument) is refused, or None: a path
    outside every root (a system file, the user's home, another process's environment)."""
    if isinstance(path, int):
        return None  # an already open descriptor
    try:
        name = os.fsdecode(path)
    except TypeError:
        return None
    real = os.path.realpath(name)
    if any(real == r or real.startswith(r.rstrip("/") + "/") for r in roots):
        return None
    return f"reading {name!r}, outside the design's directory and the Python installation"


class SandboxViolation(PermissionError):
    """Raised into unit code that tried something the checker's sandbox refuses."""


@dataclass(frozen=True)
class Violation:
    """One refused action: what it was and the stack ``(filename, line)``, innermost first."""

    what: str
    frames: tuple[tuple[str, int], ...]


def refusal(event: str, args: Sequence[Any]) -> str | None:
    """Why the audit ``event`` with ``args`` is refused, or None when it is allowed."""
    if event == "open":
        path, mode, flags = [*args, None, None, None][:3]
        writing = isinstance(mode, str) and any(c in mode for c in "wax+")
        if isinstance(flags, int) and flags & _WRITE_FLAGS:
            writing = True
        return f"opening {path!r} for writing" if writing else None
    if event in _PROCESS_EVENTS:
        return f"starting or signalling a process ({event})"
    if event in _FILE_EVENTS:
        return f"changing the file system or the process's limits ({event})"
    if event.startswith(_REFUSED_PREFIXES):
        kind = "calling native code" if event.startswith("ctypes.") else "network or file access"
        return f"{kind} ({event})"
    return None


class Guard:
    """Install once per child process with ``install()``; read ``violations`` after each stage.

    ``real_exit`` keeps the genuine ``os._exit`` so the child can still end itself.
    """

    def __init__(self) -> None:
        self.violations: list[Violation] = []
        self.real_exit: Callable[[int], NoReturn] = os._exit
        self._armed = False
        self._busy = False
        self._roots: tuple[str, ...] = ()
        self._recorded = 0  # violations appended by the hook: the list may only grow
        self._canary: object = None

    def install(self) -> None:
        """Trap exits, then add the audit hook (which can never be removed again). Reads are
        confined to ``read_roots()`` as they are at this moment."""
        trap = self._trap
        self._roots = read_roots()

        def exit_trap(*_: Any, **__: Any) -> NoReturn:
            trap("exiting the process")

        import posix
        import signal

        os._exit = exit_trap  # type: ignore[assignment]
        posix._exit = exit_trap  # type: ignore[attr-defined]
        os.abort = exit_trap  # type: ignore[assignment]
        sys.exit = exit_trap  # type: ignore[assignment]
        signal.raise_signal = exit_trap  # type: ignore[assignment]
        for name in ("exit", "quit"):
            if hasattr(builtins, name):
                setattr(builtins, name, exit_trap)
        sys.addaudithook(self._hook)
        self._armed = True

    def intact(self) -> str | None:
        """None while the guard still works, else what was done to it (a unit that found the
        guard through the stack or the garbage collector and disarmed it, or erased what it
        recorded). Checked after every stage; an attacker who also rewrites this method meets
        the integrity snapshot of Genesys's own code, and the operating-system wall around the
        process regardless."""
        if not self._armed:
            return "it was disarmed"
        if len(self.violations) < self._recorded:
            return "refusals it had recorded were erased"
        token = object()
        sys.audit("genesys.guard.canary", token)
        if self._canary is not token:
            return "its audit hook no longer sees events"
        return None

    def _record(self, violation: Violation) -> None:
        self.violations.append(violation)
        self._recorded += 1

    def _trap(self, what: str) -> NoReturn:
        self._record(Violation(what, _stack()))
        raise SandboxViolation(f"the checker's sandbox refused {what}")

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if not self._armed or self._busy:
            return
        if event == "genesys.guard.canary":
            self._canary = args[0]
            return
        self._busy = True  # _stack() raises an audit event of its own (sys._getframe)
        try:
            why = refusal(event, args)
            if why is None and event == "open" and args:
                why = read_refusal(args[0], self._roots)
            if why is None:
                return
            self._record(Violation(why, _stack()))
        finally:
            self._busy = False
        raise SandboxViolation(f"the checker's sandbox refused {why}")


def _stack() -> tuple[tuple[str, int], ...]:
    frames = []
    f = sys._getframe(1)
    while f is not None:
        frames.append((f.f_code.co_filename, f.f_lineno))
        f = f.f_back  # type: ignore[assignment]
    return tuple(frames)
