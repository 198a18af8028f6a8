"""What the loop's workers are doing, folded from its events: plain data the panels render.

Jobs are keyed by what they work on: ``design:<session>`` (a designer making design n),
``check:<design>`` and ``train:<design>@<rung>``. A job starts with the event that announces it
and ends with the event that reports its result. Times come from the events' own stamps; only
the rendering asks what time it is now, so folding the same events gives the same state.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from genesys_tui.evolve import events as ev

#: Losses a training job keeps for its sparkline, and durations kept to estimate an ETA.
LOSS_HISTORY = 120
DURATION_HISTORY = 20


@dataclass
class Job:
    key: str
    kind: str  # design, check, train
    design: str  # design id (a session name while designing)
    rung: str = ""
    started: float = 0.0  # Unix seconds, from the announcing event
    step: int = 0
    total_steps: int = 0
    loss: float | None = None
    tokens_per_second: float = 0.0
    elapsed: float = 0.0  # seconds of training, as the trainer reports it
    losses: list[float] = field(default_factory=list)  # the latest LOSS_HISTORY losses
    host: str = ""  # the node it runs on, where a cluster runner said so

    @property
    def fraction(self) -> float | None:
        """Share of the job done, where it is known (training), else None."""
        return self.step / self.total_steps if self.total_steps else None

    @property
    def eta(self) -> float | None:
        """Seconds left at the pace so far (training only)."""
        if not self.total_steps or not self.step or self.elapsed <= 0:
            return None
        return self.elapsed / self.step * (self.total_steps - self.step)

    def eta_at(self, now: float, typical: float | None) -> float | None:
        """Seconds left: at the pace so far once a step is done (from the first one, the wall
        clock standing in where the trainer reports no time), else ``typical`` (how long such
        jobs took so far) less the time this one has run; None when neither is known."""
        if self.total_steps and self.step:
            spent = self.elapsed if self.elapsed > 0 else now - self.started
            if spent > 0:
                return spent / self.step * (self.total_steps - self.step)
        if typical is None:
            return None
        return max(typical - (now - self.started), 0.0)


@dataclass
class Activity:
    jobs: dict[str, Job] = field(default_factory=dict)
    state: str = "idle"  # the loop's: idle, running, paused, stopping, finished
    message: str = ""
    cost_usd: float | None = None  # the loop's running total, once it reported one
    defaulted_prices: list[str] = field(default_factory=list)  # models charged at a guess
    errors: list[ev.LoopError] = field(default_factory=list)  # the latest 20, oldest first
    verifying: dict[str, int] = field(default_factory=dict)  # rung -> trainings in flight
    check_seconds: list[float] = field(default_factory=list)  # the latest checks' durations
    train_seconds: dict[str, list[float]] = field(default_factory=dict)  # rung -> durations
    runner: str = ""  # where jobs run ("local", "ray:auto", ...), once the loop said so
    nodes: tuple[str, ...] = ()  # the runner's machines, one line each

    def typical(self, job: Job) -> float | None:
        """How long jobs like ``job`` took so far (median seconds), None before one finished:
        checks for a check, trainings at the same rung for a training."""
        seen = self.check_seconds if job.kind == "check" else self.train_seconds.get(job.rung)
        return statistics.median(seen) if seen else None

    def eta(self, job: Job, now: float) -> float | None:
        """Seconds ``job`` has left, at ``now`` (see ``Job.eta_at``)."""
        return job.eta_at(now, self.typical(job))

    def end_jobs(self) -> None:
        """The loop is gone (stopped, finished or crashed): none of its jobs runs any more."""
        self.jobs.clear()
        self.verifying.clear()

    def apply(self, event: ev.Event) -> bool:
        """Fold one event in; return whether anything shown changed."""
        if isinstance(event, ev.Dialogue):
            key = f"design:{event.session}"
            if key in self.jobs:
                return False
            self.jobs[key] = Job(key, "design", event.session or "designer", started=event.ts)
        elif isinstance(event, ev.DesignProposed | ev.DesignCommitted):
            # A design ends its session with DesignProposed; a failed one only gets committed.
            ends = isinstance(event, ev.DesignProposed) or event.status == "failed"
            designs = [k for k in self.jobs if k.startswith("design:")]
            if ends and designs:
                del self.jobs[designs[0]]  # designers finish in the order they started, mostly
        elif isinstance(event, ev.WorkerStatus) and event.state == "checking":
            key = f"check:{event.job}"
            self.jobs[key] = Job(key, "check", event.job, started=event.ts)
        elif isinstance(event, ev.CheckFinished):
            self.jobs.pop(f"check:{event.design}", None)
            if event.seconds > 0:
                self.check_seconds = [*self.check_seconds, event.seconds][-DURATION_HISTORY:]
        elif isinstance(event, ev.RungStarted):
            key = f"train:{event.design}@{event.rung}"
            self.jobs[key] = Job(key, "train", event.design, event.rung, started=event.ts)
            self.verifying[event.rung] = self.verifying.get(event.rung, 0) + 1
        elif isinstance(event, ev.TrainingProgress):
            key = f"train:{event.design}@{event.rung}"
            job = self.jobs.setdefault(
                key, Job(key, "train", event.design, event.rung, started=event.ts)
            )
            job.step, job.total_steps = event.step, event.total_steps
            job.loss, job.tokens_per_second = event.loss, event.tokens_per_second
            job.elapsed = event.elapsed
            job.losses = [*job.losses, event.loss][-LOSS_HISTORY:]
        elif isinstance(event, ev.RungFinished):
            if self.jobs.pop(f"train:{event.design}@{event.rung}", None) is not None:
                self.verifying[event.rung] = max(self.verifying.get(event.rung, 1) - 1, 0)
            if event.ok and event.seconds > 0:
                seen = self.train_seconds.get(event.rung, [])
                self.train_seconds[event.rung] = [*seen, event.seconds][-DURATION_HISTORY:]
        elif isinstance(event, ev.JobPlaced):
            key = f"train:{event.design}@{event.rung}" if event.rung else f"check:{event.design}"
            if key not in self.jobs:
                return False
            self.jobs[key].host = event.host
        elif isinstance(event, ev.ClusterStatus):
            self.runner, self.nodes = event.runner, event.nodes
        elif isinstance(event, ev.LoopState):
            self.state, self.message = event.state, event.message
            if event.state in ("finished", "failed"):
                self.end_jobs()
        elif isinstance(event, ev.CostUpdate):
            self.cost_usd = event.total_usd
            self.defaulted_prices = sorted({*self.defaulted_prices, *event.defaulted_prices})
        elif isinstance(event, ev.LoopError):
            self.errors = [*self.errors, event][-20:]
        else:
            return False
        return True


def duration(seconds: float | None) -> str:
    """``42s``, ``3m05s``, ``2h04m``; ``-`` when unknown."""
    if seconds is None or seconds < 0:
        return "-"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"
