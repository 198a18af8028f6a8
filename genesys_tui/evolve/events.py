"""The loop's typed event stream: what the dashboard renders and the JSONL log records.

Each event is a frozen dataclass with a ``kind``; ``to_json`` / ``event_from_json`` round-trip
them through the log at ``<namespace>/.genesys/events.jsonl``. Subscribers are called on the
thread that emits; a dashboard hands them to its UI thread itself. Every event passes through
the secrets redactor before it is logged or handed to a subscriber (``redacted``).
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from genesys_tui.evolve.runner import PLACED
from genesys_tui.redaction import redact_data


@dataclass(frozen=True)
class Event:
    kind: ClassVar[str] = "event"
    ts: float = field(default_factory=time.time, kw_only=True)

    def to_json(self) -> str:
        return json.dumps({"kind": self.kind, **dataclasses.asdict(self)}, default=str)


@dataclass(frozen=True)
class DesignProposed(Event):
    kind: ClassVar[str] = "design_proposed"
    title: str
    parents: tuple[str, ...]
    designer: str
    operation: str  # mutation, crossover, scratch
    reason: str  # why these parents: exploit, explore, restart, warm-up


@dataclass(frozen=True)
class Dialogue(Event):
    kind: ClassVar[str] = "dialogue"
    role: str  # proposer, reviewer, planner, coder, observer, designer
    text: str
    session: str = ""


@dataclass(frozen=True)
class CheckFinished(Event):
    kind: ClassVar[str] = "check_finished"
    design: str
    ok: bool
    summary: str
    seconds: float


@dataclass(frozen=True)
class DesignCommitted(Event):
    kind: ClassVar[str] = "design_committed"
    design: str
    commit: str
    parents: tuple[str, ...]
    status: str  # valid, rejected, duplicate, failed
    name: str = ""
    title: str = ""


@dataclass(frozen=True)
class RungStarted(Event):
    kind: ClassVar[str] = "rung_started"
    design: str
    rung: str
    worker: str = ""


@dataclass(frozen=True)
class TrainingProgress(Event):
    kind: ClassVar[str] = "training_progress"
    design: str
    rung: str
    step: int
    total_steps: int
    loss: float
    tokens_per_second: float
    elapsed: float = 0.0


@dataclass(frozen=True)
class RungFinished(Event):
    kind: ClassVar[str] = "rung_finished"
    design: str
    rung: str
    ok: bool
    bpb: float | None = None
    fitness: float | None = None
    reason: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class WorkerStatus(Event):
    kind: ClassVar[str] = "worker_status"
    worker: str
    state: str  # idle, designing, checking, training
    job: str = ""


@dataclass(frozen=True)
class JobPlaced(Event):
    """A check (``rung`` empty) or verification landed on a node of a cluster runner."""

    kind: ClassVar[str] = "job_placed"
    design: str
    host: str
    rung: str = ""


@dataclass(frozen=True)
class ClusterStatus(Event):
    """The machines a runner runs jobs on, one line each ("host: 8 CPUs, 1 GPU")."""

    kind: ClassVar[str] = "cluster"
    runner: str
    nodes: tuple[str, ...] = ()


@dataclass(frozen=True)
class CostUpdate(Event):
    kind: ClassVar[str] = "cost"
    total_usd: float
    design_usd: float = 0.0
    defaulted_prices: tuple[str, ...] = ()  # "provider:model" of this design charged at a
    # default price (the cost is a guess)


@dataclass(frozen=True)
class LoopState(Event):
    kind: ClassVar[str] = "loop_state"
    state: str  # running, paused, stopping, stopped, finished
    message: str = ""


@dataclass(frozen=True)
class LoopError(Event):
    kind: ClassVar[str] = "error"
    message: str
    design: str = ""
    traceback: str = ""  # the Python traceback, where the error was an exception


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        DesignProposed,
        Dialogue,
        CheckFinished,
        DesignCommitted,
        RungStarted,
        TrainingProgress,
        RungFinished,
        WorkerStatus,
        JobPlaced,
        ClusterStatus,
        CostUpdate,
        LoopState,
        LoopError,
    )
}


def from_progress(design: str, rung: str, event: dict[str, Any]) -> Event | None:
    """A runner job's progress event as a loop event: ``{"placed": host}`` (a cluster runner's
    first word) -> ``JobPlaced``; a training step of a verification -> ``TrainingProgress``."""
    if PLACED in event:
        return JobPlaced(design=design, rung=rung, host=str(event[PLACED]))
    if not rung or "step" not in event:
        return None
    return TrainingProgress(
        design=design,
        rung=rung,
        step=int(event.get("step", 0)),
        total_steps=int(event.get("total_steps", 0)),
        loss=float(event.get("loss", 0.0)),
        tokens_per_second=float(event.get("tokens_per_second", 0.0)),
        elapsed=float(event.get("elapsed", 0.0)),
    )


def event_from_json(line: str) -> Event:
    """Parse one log line; raises ValueError for an unknown kind or field."""
    data = json.loads(line)
    cls = EVENT_TYPES.get(data.pop("kind", None))
    if cls is None:
        raise ValueError(f"unknown event kind in {line[:80]!r}")
    for name, f in {f.name: f for f in dataclasses.fields(cls)}.items():
        if name in data and "tuple" in str(f.type) and isinstance(data[name], list):
            data[name] = tuple(data[name])
    return cls(**data)


def redacted(event: Event) -> Event:
    """``event`` with every string in its fields (tuples of strings included) redacted."""
    changes = {}
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        clean = redact_data(value)
        if clean != value:
            changes[f.name] = clean
    return dataclasses.replace(event, **changes) if changes else event


class EventBus:
    """Fan events out to subscribers and append them to a JSONL log (thread-safe)."""

    def __init__(self, log_path: Path | None = None) -> None:
        self._subscribers: list[Callable[[Event], None]] = []
        self._lock = threading.Lock()
        self._log = None
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = log_path.open("a", encoding="utf-8")

    def subscribe(self, fn: Callable[[Event], None]) -> None:
        self._subscribers.append(fn)

    def emit(self, event: Event) -> None:
        """Log ``event`` (not training progress) and hand it to every subscriber, redacted."""
        event = redacted(event)
        with self._lock:
            if self._log is not None and not isinstance(event, TrainingProgress):
                self._log.write(event.to_json() + "\n")
                self._log.flush()
        for fn in list(self._subscribers):
            fn(event)

    def close(self) -> None:
        with self._lock:
            if self._log is not None:
                self._log.close()
                self._log = None


def read_events(path: Path) -> list[Event]:
    """Every event in a log; a torn last line (the writer was killed) is skipped."""
    out: list[Event] = []
    if not path.exists():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(event_from_json(line))
        except (ValueError, TypeError):
            continue
    return out
