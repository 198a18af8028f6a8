"""The sandbox inside the child process: an audit hook and exit traps.

Installed after torch is imported and before any unit code runs, it refuses what no model
should do: write or delete files, open sockets, start or signal processes, call native code
through ctypes, change resource limits, exit the process. A refusal raises SandboxViolation in
the offending code *and* is recorded, so a unit that swallows the exception is still reported.
Reading files stays allowed: torch imports lazily and reads its own files while it runs.

This is a net for sloppy or cheating code, not a security boundary against a determined
attacker (that needs an OS sandbox: a container, seccomp); the parent's process-group kill,
wall-clock timeout and resource limits are the backstop for whatever gets through.
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

    def install(self) -> None:
        """Trap exits, then add the audit hook (which can never be removed again)."""
        trap = self._trap

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

    def _trap(self, what: str) -> NoReturn:
        self.violations.append(Violation(what, _stack()))
        raise SandboxViolation(f"the checker's sandbox refused {what}")

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if not self._armed or self._busy:
            return
        self._busy = True  # _stack() raises an audit event of its own (sys._getframe)
        try:
            why = refusal(event, args)
            if why is None:
                return
            self.violations.append(Violation(why, _stack()))
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
