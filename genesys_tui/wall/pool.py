"""Where cells come from: a ``CellPool`` hands them out and keeps a started spare per spec, so
that the next job does not wait for torch to import; each process has one shared pool per wall
(``shared_pool``, ``run_walled``).

A running cell belongs to the owner its job runs under (``owned_by``: a runner wraps each job
it hosts), and ``kill_running(owner)`` kills that owner's cells only: one run cancelling its
jobs leaves alone the cells another caller in the same process is running (a study's
confirmation, another run).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
import threading
import weakref
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from genesys_tui.wall.bwrap import Wall
from genesys_tui.wall.cell import SCRATCH_PREFIX, Cell, CellSpec, Outcome

_OWNER = threading.local()


@contextlib.contextmanager
def owned_by(owner: object) -> Iterator[None]:
    """Cells this thread runs inside the block belong to ``owner`` (see ``kill_running``)."""
    previous = getattr(_OWNER, "owner", None)
    _OWNER.owner = owner
    try:
        yield
    finally:
        _OWNER.owner = previous


class CellPool:
    """Hands out cells, keeping one started spare per spec so that a job finds torch imported.

    Every cell runs one job; taking a spare starts the next one at once, so its imports overlap
    the job that took its predecessor.
    """

    def __init__(self, wall: Wall, spares: bool = True) -> None:
        self.wall = wall
        self.keep_spares = spares
        self._spares: dict[CellSpec, Cell] = {}
        self._running: dict[Cell, object] = {}  # a running cell -> its owner (``owned_by``)
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, _close_all, self._spares)

    def take(self, spec: CellSpec) -> Cell:
        with self._lock:
            cell = self._spares.pop(spec, None)
            if cell is not None and not cell.alive:
                cell.close()
                cell = None
            if cell is None:
                cell = Cell(self.wall, spec)
            if self.keep_spares:
                self._spares[spec] = Cell(self.wall, spec)
        return cell

    def run(self, spec: CellSpec, func: str, kwargs: Mapping[str, Any], **kw: Any) -> Outcome:
        """Run one job in a cell of ``spec`` and remove the cell afterwards."""
        cell = self.take(spec)
        with self._lock:
            self._running[cell] = getattr(_OWNER, "owner", None)
        try:
            return cell.run(func, kwargs, **kw)
        finally:
            with self._lock:
                self._running.pop(cell, None)
            cell.close()

    def kill_running(self, owner: object) -> None:
        """Kill the cells running a job for ``owner`` now (their jobs end as "died")."""
        with self._lock:
            running = [cell for cell, whose in self._running.items() if whose is owner]
        for cell in running:
            cell.kill()

    def close(self) -> None:
        with self._lock:
            _close_all(self._spares)


def _close_all(spares: dict[CellSpec, Cell]) -> None:
    for cell in list(spares.values()):
        cell.close()
    spares.clear()


_POOLS: dict[Wall, CellPool] = {}
_POOLS_LOCK = threading.Lock()


def shared_pool(wall: Wall) -> CellPool:
    """The process's pool for ``wall`` (the checker's cells come from it). The first pool of a
    process also removes what cells of dead processes left behind (``sweep_stale``)."""
    with _POOLS_LOCK:
        pool = _POOLS.get(wall)
        if pool is None:
            if not _POOLS:
                sweep_stale()
            pool = _POOLS[wall] = CellPool(wall)
        return pool


def sweep_stale(root: str | None = None) -> list[Path]:
    """Remove the scratch directories (checkpoints included) of cells whose starting process
    is gone: one killed with SIGKILL never closed them. Returns what was removed."""
    removed = []
    for path in Path(root or tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*-*"):
        pid = path.name[len(SCRATCH_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


@atexit.register
def close_spares() -> None:
    """Stop every pool's warm spare cells and remove their scratch directories (a run's close;
    the next job starts a fresh spare)."""
    with _POOLS_LOCK:
        pools = list(_POOLS.values())
    for pool in pools:
        pool.close()


def kill_running(owner: object) -> None:
    """Kill the cells that every pool of this process runs for ``owner`` (a runner cancelling
    its jobs): the cells of other owners run on."""
    with _POOLS_LOCK:
        pools = list(_POOLS.values())
    for pool in pools:
        pool.kill_running(owner)


def run_walled(wall: Wall, spec: CellSpec, func: str, kwargs: Mapping[str, Any],
               **kw: Any) -> Outcome:  # fmt: skip
    """One job in a fresh cell from the shared pool of ``wall``."""
    return shared_pool(wall).run(spec, func, kwargs, **kw)
