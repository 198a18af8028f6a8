"""The writer lock of a designs repository: a namespace has one writer.

The evolution loop opens the repository with ``writer=True``, which takes an exclusive
``flock`` on ``.git/genesys/writer.lock`` and writes its process id there (for the message a
second writer gets); the dashboard and the CLI open it read-only and may do so while the writer
runs. The kernel drops the lock when the writer's process ends, however it ends, so a killed
writer leaves no stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from genesys_tui.errors import StoreError


class WriterLock:
    """The writer lock of the repository whose git directory is ``git_dir``.

    ``acquire`` and ``release`` it as the writer; ``is_held`` asks, from any process, whether
    a writer holds it now. The ``.git/genesys`` folder must exist.
    """

    def __init__(self, git_dir: Path):
        self.path = git_dir / "genesys" / "writer.lock"
        self._fd: int | None = None

    def acquire(self, namespace: str) -> None:
        """Take the lock, or raise StoreError naming the process that holds it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise StoreError(
                f"namespace {namespace} is being written by process {holder}; "
                "a namespace has one writer (open it read-only, or stop that "
                "process)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Let go of the lock, if this object holds it."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def is_held(self) -> bool:
        """Whether a writer (in any process, this one included) holds the lock now."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return False
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
