"""Workers and ladder: each job in flight with a progress bar and ETA; rung budgets used/left.

Training shows step, loss, throughput and the ETA at the pace so far; checking and designing
show how long they have run. The ladder lists, per rung, its budget used where a run is
attached (seeds apart, as the scheduler counts), how many designs passed it (seeds included, as
the leaderboard's rungs column counts; ``board.ladder_counts``), failed and are training.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Label, ProgressBar, Static

from genesys_tui.store.records import DesignRecord
from genesys_tui.tui.activity import Activity, Job, duration
from genesys_tui.tui.board import ladder_counts


class JobRow(Horizontal):
    DEFAULT_CSS = """
    JobRow { height: 1; }
    JobRow Label { width: 1fr; }
    JobRow ProgressBar { width: 26; }
    """

    def __init__(self, job: Job, now: float) -> None:
        super().__init__()
        self.job, self.now = job, now

    def compose(self) -> ComposeResult:
        yield Label(id="what")
        yield ProgressBar(total=None, show_eta=False, id="bar")

    def on_mount(self) -> None:
        self.call_after_refresh(self.show, self.job, self.now)

    def show(self, job: Job, now: float) -> None:
        self.job, self.now = job, now
        labels, bars = self.query("#what").results(Label), self.query("#bar").results(ProgressBar)
        label, bar = next(labels, None), next(bars, None)
        if label is None or bar is None:  # not composed yet: on_mount draws it
            return
        if job.kind == "train":
            text = Text.assemble(("train ", "bold"), job.design, f" @ {job.rung}")
            if job.total_steps:
                text.append(f"  {job.step}/{job.total_steps}")
            if job.loss is not None:
                text.append(f"  loss {job.loss:.3f}")
            if job.tokens_per_second:
                text.append(f"  {job.tokens_per_second:,.0f} tok/s")
            text.append(f"  ETA {duration(job.eta)}")
            if job.total_steps:
                bar.update(total=job.total_steps, progress=job.step)
        else:
            text = Text.assemble((f"{job.kind} ", "bold"), job.design)
            text.append(f"  {duration(now - job.started)}")
        label.update(text)


class WorkersPanel(Vertical):
    DEFAULT_CSS = """
    WorkersPanel { background: $surface; }
    WorkersPanel #jobs { height: 1fr; }
    WorkersPanel #ladder { height: auto; max-height: 8; }
    WorkersPanel .idle { color: $foreground-muted; }
    """

    def __init__(self, clock: Callable[[], float] = time.time, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.clock = clock
        self._rows: dict[str, JobRow] = {}

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="jobs"):
            yield Static("no jobs running", classes="idle", id="idle")
        yield Static(id="ladder")

    def show_jobs(self, activity: Activity) -> None:
        jobs = self.query_one("#jobs", VerticalScroll)
        for key in [k for k in self._rows if k not in activity.jobs]:
            self._rows.pop(key).remove()
        now = self.clock()
        for key, job in activity.jobs.items():
            row = self._rows.get(key)
            if row is None:
                row = self._rows[key] = JobRow(job, now)
                jobs.mount(row)
            else:
                row.show(job, now)
        self.query_one("#idle", Static).display = not activity.jobs

    def tick(self) -> None:
        """Refresh elapsed times (called once a second while a run is attached)."""
        now = self.clock()
        for row in self._rows.values():
            if row.is_mounted:
                row.show(row.job, now)

    def show_ladder(
        self,
        rungs: Sequence[str],
        records: Mapping[str, DesignRecord],
        budgets: Mapping[str, int] | None,
        activity: Activity,
    ) -> None:
        counts = ladder_counts(records.values(), rungs)
        lines = Text()
        for rung in rungs:
            count, training = counts[rung], activity.verifying.get(rung, 0)
            lines.append(f"{rung:<10}", style="bold")
            if budgets is not None and rung in budgets:
                total = max(budgets[rung], 1)
                filled = min(round(10 * (count.used + training) / total), 10)
                lines.append("▰" * filled + "▱" * (10 - filled))
                lines.append(f" {count.used}/{budgets[rung]} used,")
            lines.append(f" {count.passed} passed")
            if count.seeds:
                lines.append(f" ({count.seeds} seed{'s' if count.seeds > 1 else ''})", style="dim")
            if count.failed + count.failed_seeds:
                lines.append(f", {count.failed + count.failed_seeds} failed")
            if training:
                lines.append(f", {training} training")
            lines.append("\n")
        if not rungs:
            lines.append("no rung verified yet", style="dim")
        lines.rstrip()
        self.query_one("#ladder", Static).update(lines)
