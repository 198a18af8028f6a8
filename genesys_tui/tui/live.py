"""The evolution run a dashboard drives: opened like ``genesys evolve`` opens one, watched
through its event bus, controlled by start, pause and stop.

The loop itself runs in a thread the dashboard gives it (``run()`` blocks until the loop ends);
every check and verification runs in child processes of the loop's runner, so untrusted design
code never runs in the dashboard's process. Events reach ``on_event`` on the loop's threads;
the dashboard hands them to its UI thread. Training progress (one event per optimiser step)
is thinned to ``progress_seconds`` per job for the UI, and every step's loss is kept in the
namespace's curve log.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from genesys_tui.errors import LoopFailed
from genesys_tui.evolve import events as ev
from genesys_tui.evolve.loop import EvolutionLoop
from genesys_tui.evolve.session import Run, open_run
from genesys_tui.evolve.settings import EvolveConfig
from genesys_tui.tui.curves import CurveLog, curves_dir


class LiveRun:
    """One namespace's evolution run, opened on demand and reopened (resumed) after a stop.

    A loop that fails on an error of its own is resumed at once, up to ``max_restarts`` times
    within ``restart_window`` seconds; past that the run stays stopped and its last error says
    how to start it again. Every failure reaches the event log with its traceback.
    """

    def __init__(
        self,
        config: EvolveConfig,
        root: Path,
        on_event: Callable[[ev.Event], None],
        progress_seconds: float = 0.25,
        max_restarts: int = 3,
        restart_window: float = 600.0,
    ) -> None:
        self.config = config
        self.root = Path(root)
        self.path = self.root / config.namespace
        self.on_event = on_event
        self.progress_seconds = progress_seconds
        self.curves = CurveLog(curves_dir(self.path))
        self.run_handle: Run | None = None
        self.reason = ""  # why the last run ended
        self._lock = threading.Lock()
        self._last_progress: dict[str, float] = {}
        self.start_paused = False
        self.max_restarts = max_restarts
        self.restart_window = restart_window
        self.restarts: list[float] = []  # monotonic times of the automatic restarts
        self._stopping = False  # stop() was asked for: a failure is not restarted then
        # Textual swaps sys.stderr for an object whose fileno() is -1, and multiprocessing's
        # resource tracker hands that fd to its child, which fails ("bad value(s) in
        # fds_to_keep"). Started here, before the app runs, a runner that uses
        # multiprocessing works inside the dashboard too.
        from multiprocessing import resource_tracker

        resource_tracker.ensure_running()

    @property
    def loop(self) -> EvolutionLoop | None:
        return self.run_handle.loop if self.run_handle is not None else None

    @property
    def running(self) -> bool:
        return self.run_handle is not None

    def open(self) -> EvolutionLoop:
        """Create or resume the namespace and set the loop up (not started). Idempotent."""
        with self._lock:
            if self.run_handle is None:
                exists = (self.path / ".git").is_dir()
                self.run_handle = open_run(self.config, resume=exists, root=self.root)
                self.run_handle.bus.subscribe(self._forward)
                if self.start_paused:
                    self.run_handle.loop.pause(True)
            return self.run_handle.loop

    def run(self) -> str:
        """Open if needed, run the loop to its end, then close the run; return why it ended.

        A failed loop is resumed (see the class docstring). Blocks: call it from a worker
        thread.
        """
        self._stopping = False
        while True:
            loop = self.open()
            try:
                self.reason = loop.run()
                return self.reason
            except LoopFailed as exc:
                if not self._restart_after(exc):
                    return self.reason
            finally:
                self._close()

    def _restart_after(self, exc: LoopFailed) -> bool:
        """Whether to resume after the loop failed with ``exc``; say which, in the event log."""
        now = time.monotonic()
        self.restarts = [t for t in self.restarts if now - t < self.restart_window]
        if self._stopping:
            self.reason = f"it failed while stopping: {exc}"
            return False
        if len(self.restarts) >= self.max_restarts:
            self.reason = (
                f"it failed {len(self.restarts) + 1} times within "
                f"{self.restart_window / 60:.0f} min and was left stopped: {exc}. Press g to "
                f"start it again, or run `genesys evolve --resume --namespace "
                f"{self.config.namespace}`"
            )
            self._emit(ev.LoopError(message=f"evolution stopped: {self.reason}"))
            return False
        self.restarts.append(now)
        self._emit(
            ev.LoopError(
                message=f"evolution restarted ({len(self.restarts)} of {self.max_restarts} "
                f"within {self.restart_window / 60:.0f} min) after: {exc}"
            )
        )
        return True

    def _emit(self, event: ev.Event) -> None:
        handle = self.run_handle
        if handle is not None:
            handle.bus.emit(event)  # logged, and forwarded here by the subscription
        else:
            self.on_event(event)

    def _close(self) -> None:
        with self._lock:
            handle, self.run_handle = self.run_handle, None
        if handle is not None:
            handle.close()

    def pause(self, paused: bool) -> bool:
        """Pause or resume; False when no run is open."""
        loop = self.loop
        if loop is None:
            return False
        loop.pause(paused)
        return True

    def stop(self, abandon: bool = False) -> bool:
        """Finish the jobs in flight and stop (``abandon``: kill them, a resume reruns them)."""
        loop = self.loop
        if loop is None:
            return False
        self._stopping = True
        loop.stop(abandon=abandon)
        return True

    def _forward(self, event: ev.Event) -> None:
        if isinstance(event, ev.TrainingProgress):
            self.curves.record(event)
            key = f"{event.design}@{event.rung}"
            now = time.monotonic()
            last = event.step >= event.total_steps > 0
            if not last and now - self._last_progress.get(key, 0.0) < self.progress_seconds:
                return
            self._last_progress[key] = now
        self.on_event(event)
