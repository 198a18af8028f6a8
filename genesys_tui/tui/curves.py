"""Training loss curves: recorded from the loop's progress events, read back per design and rung.

The loop's event log leaves progress events out (there is one per optimiser step), and rung
results keep scores, not curves. So while the dashboard drives a run it appends each step's
loss to ``<namespace>/.git/genesys/curves/<design>@<rung>.tsv`` (two columns: step, loss),
where ``--view`` finds it later. A rung result whose ``detail`` holds a ``curve`` (a list of
[step, loss] pairs) is read as well, so a loop that starts recording curves itself needs no
change here.
"""

from __future__ import annotations

import math
import re
import threading
from pathlib import Path

from genesys_tui.evolve.events import TrainingProgress
from genesys_tui.results import RungResult

Curve = list[tuple[int, float]]


def curves_dir(namespace_path: Path) -> Path:
    return Path(namespace_path) / ".git" / "genesys" / "curves"


def _file_name(design: str, rung: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.@-]", "_", f"{design}@{rung}") + ".tsv"


class CurveLog:
    """Appends and reads the curve files of one namespace (appending is thread-safe)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()
        self._last: dict[str, int] = {}  # file -> last step written: a resumed run repeats none

    def record(self, event: TrainingProgress) -> None:
        if not math.isfinite(event.loss):
            return
        name = _file_name(event.design, event.rung)
        with self._lock:
            if event.step <= self._last.get(name, -1):
                return
            self._last[name] = event.step
            self.directory.mkdir(parents=True, exist_ok=True)
            with (self.directory / name).open("a", encoding="utf-8") as fh:
                fh.write(f"{event.step}\t{event.loss:.6g}\n")

    def read(self, design: str, rung: str) -> Curve:
        """The recorded (step, loss) points in step order; empty where none were recorded."""
        path = self.directory / _file_name(design, rung)
        if not path.is_file():
            return []
        points: dict[int, float] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            step, _, loss = line.partition("\t")
            try:
                points[int(step)] = float(loss)
            except ValueError:  # a torn last line: the writer was killed mid-write
                continue
        return sorted(points.items())


def curve_of(result: RungResult, log: CurveLog | None, design: str, rung: str) -> Curve:
    """A rung's loss curve: the result's own (kept with it) if it has one, else the log."""
    if result.curve:
        return sorted(result.curve)
    return log.read(design, rung) if log is not None else []
