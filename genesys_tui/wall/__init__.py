"""The wall between design code and everything else (issue 21).

Every process that imports a design's units (the checker's runtime stages, training,
evaluation) runs in a ``Cell`` (``cell.py``): a process of its own inside a bubblewrap sandbox
(``bwrap.py``), started warm by a ``CellPool`` (``pool.py``), entered through ``enter.py``. The
process that starts a cell is trusted and holds no design code; it computes verdicts and scores
from the evidence the cell sends back.

``current()`` is the wall this process uses: bubblewrap where it works; where it does not,
``SandboxUnavailable`` (one line, with the fix) unless the user chose ``--no-sandbox``
(``configure(sandbox=False)``, or ``sandbox = false`` in the settings file), which runs design
code in plain child processes and is shown as "unsandboxed" wherever results appear.
"""

from __future__ import annotations

import threading

from genesys_tui.errors import GenesysError
from genesys_tui.wall.bwrap import HINT, Limits, Wall, probe
from genesys_tui.wall.cell import STOP, Cell, CellSpec, Outcome, taken_root
from genesys_tui.wall.pool import (
    CellPool,
    close_spares,
    kill_running,
    owned_by,
    run_walled,
    shared_pool,
)

__all__ = [
    "STOP", "Cell", "CellPool", "CellSpec", "Limits", "Outcome", "SandboxUnavailable", "Wall",
    "close_spares", "configure", "current", "kill_running", "owned_by", "probe", "run_walled",
    "shared_pool", "taken_root",
    "unsandboxed",
]  # fmt: skip


class SandboxUnavailable(GenesysError):
    """No sandbox can be made here and the user did not choose to run without one."""


_CHOICE: bool | None = None  # None: the sandbox, required; False: --no-sandbox
_LOCK = threading.Lock()


def configure(sandbox: bool = True) -> None:
    """Choose for this process: ``sandbox=False`` runs design code without the wall."""
    global _CHOICE
    with _LOCK:
        _CHOICE = None if sandbox else False


def unsandboxed() -> bool:
    """True when the user chose to run design code without the wall."""
    return _CHOICE is False


def current() -> Wall:
    """The wall for design code; SandboxUnavailable when bubblewrap cannot run here and the
    user did not pass --no-sandbox."""
    if _CHOICE is False:
        return Wall(mode="none")
    why = probe()
    if why is not None:
        raise SandboxUnavailable(f"{why}; Genesys will not run model-written designs without a "
                                 f"sandbox: {HINT}")  # fmt: skip
    return Wall(mode="bwrap")
