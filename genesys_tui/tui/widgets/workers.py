"""Workers and ladder: each job in flight with a progress bar and ETA; rung budgets used/left.

Training shows step, loss, throughput, a sparkline of its loss so far and the ETA at the pace
so far (before its first step, from how long trainings at that rung took); checking shows how
long it has run and an ETA from how long checks took so far; designing, how long it has run.
The ladder lists, per rung, its budget used where a run is attached (seeds apart, as the
scheduler counts), how many designs passed it (seeds included, as the leaderboard's rungs
column counts; ``board.ladder_counts``), failed and are training.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Label, ProgressBar, Static

from genesys_tui.store.records import DesignRecord
from genesys_tui.tui.activity import Activity, Job, duration
from genesys_tui.tui.board import ladder_counts

BARS = " ▁▂▃▄▅▆▇█"


def loss_spark(losses: Sequence[float], width: int) -> str:
    """The last ``width`` losses as bars scaled between their own lowest and highest (a loss
    curve falls from its first value, so a fixed scale would flatten it), newest on the right."""
    tail = [v for v in losses if math.isfinite(v)][-width:] if width > 0 else []
    if not tail:
        return ""
    low, high = min(tail), max(tail)
    span = high - low
    top = len(BARS) - 1
    bars = [BARS[1 + round((v - low) / span * (top - 1)) if span > 0 else 4] for v in tail]
    return "".join(bars)


class LossSpark(Static):
    """A training job's loss so far: its rung, one line of bars, the latest loss, steps done
    and throughput."""

    DEFAULT_CSS = """
    LossSpark {
        height: 1; color: $primary; padding: 0 0 0 2; text-wrap: nowrap; text-overflow: ellipsis;
    }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.losses: list[float] = []
        self.rung = ""  # where it trains, before the loss
        self.figures: list[str] = []  # steps and throughput, after the latest loss

    def render(self) -> Text:
        finite = [v for v in self.losses if math.isfinite(v)]
        head = f"{self.rung}  loss " if self.rung else "loss "
        if not finite:
            return Text(f"{head}waiting for the first step", style="dim")
        figures = f" {finite[-1]:.3f}"
        room = self.content_size.width - len(head)
        for figure in self.figures:  # each only where the sparkline keeps 8 cells
            if room - len(figures) - len(figure) - 3 < 8:
                break
            figures += f" · {figure}"
        width = max(min(room - len(figures), 40), 4)
        return Text.assemble((head, "dim"), loss_spark(finite, width), (figures, "dim"))


class JobRow(Vertical):
    """One job: what it works on, its ETA and a progress bar; a training job adds its loss
    sparkline below. The design's name comes first, so a narrow panel cuts the figures."""

    DEFAULT_CSS = """
    JobRow { height: auto; }
    JobRow > Horizontal { height: 1; }
    JobRow Label { width: 1fr; text-wrap: nowrap; text-overflow: ellipsis; }
    JobRow ProgressBar { width: 16; }
    JobRow ProgressBar Bar { width: 10; }
    """

    def __init__(self, job: Job, now: float, typical: float | None = None) -> None:
        super().__init__()
        self.job, self.now, self.typical = job, now, typical

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Label(id="what")
            yield ProgressBar(total=None, show_eta=False, id="bar")
        if self.job.kind == "train":
            yield LossSpark(id="spark")

    def on_mount(self) -> None:
        self.call_after_refresh(self.show, self.job, self.now, self.typical)

    def show(self, job: Job, now: float, typical: float | None = None) -> None:
        self.job, self.now, self.typical = job, now, typical
        labels, bars = self.query("#what").results(Label), self.query("#bar").results(ProgressBar)
        label, bar = next(labels, None), next(bars, None)
        if label is None or bar is None:  # not composed yet: on_mount draws it
            return
        eta = job.eta_at(now, typical)
        text = Text.assemble((f"{job.kind} ", "bold"), job.design)
        if job.host:
            text.append(f" @{job.host}", style="dim")
        if job.kind != "design":
            text.append(f"  ETA {duration(eta)}")
        if job.kind == "train":
            figures = []
            if job.total_steps:
                figures.append(f"{job.step}/{job.total_steps}")
                bar.update(total=job.total_steps, progress=job.step)
            if job.tokens_per_second:
                figures.append(f"{job.tokens_per_second:,.0f} tok/s")
            for spark in self.query("#spark").results(LossSpark):
                spark.losses, spark.rung = job.losses, job.rung
                spark.figures = figures
                spark.refresh()
        else:
            text.append(f"  {duration(now - job.started)}")
            if eta is not None and typical:  # the share of a typical check's time gone by
                bar.update(total=100, progress=min(99.0, 100 * (1 - eta / typical)))
        label.update(text)


class WorkersPanel(Vertical):
    DEFAULT_CSS = """
    WorkersPanel { background: $surface; }
    WorkersPanel #jobs { height: 1fr; }
    WorkersPanel #cluster { height: auto; max-height: 4; color: $foreground-muted; }
    WorkersPanel #ladder {
        height: auto; max-height: 8; text-wrap: nowrap; text-overflow: ellipsis;
    }
    WorkersPanel .idle { color: $foreground-muted; }
    WorkersPanel.-narrow JobRow ProgressBar { display: none; }
    """
    #: Narrower than this, job rows drop their bars and keep the design's name and ETA.
    NARROW = 44

    def __init__(self, clock: Callable[[], float] = time.time, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.clock = clock
        self.sigmas: dict[str, float] = {}  # rung -> its measured score noise (Rung.score_sigma)
        self._rows: dict[str, JobRow] = {}
        self._ladder: (
            tuple[Sequence[str], Mapping[str, DesignRecord], Mapping[str, int] | None, Activity]
            | None
        ) = None  # what the ladder shows, to draw it again at a new width

    def compose(self) -> ComposeResult:
        yield Static(id="cluster")
        with VerticalScroll(id="jobs"):
            yield Static("no jobs running", classes="idle", id="idle")
        yield Static(id="ladder")

    def on_resize(self) -> None:
        narrow = self.size.width < self.NARROW
        if narrow != self.has_class("-narrow"):
            self.set_class(narrow, "-narrow")
            if self._ladder is not None:
                self.show_ladder(*self._ladder)

    def show_jobs(self, activity: Activity) -> None:
        self.show_cluster(activity)
        jobs = self.query_one("#jobs", VerticalScroll)
        for key in [k for k in self._rows if k not in activity.jobs]:
            self._rows.pop(key).remove()
        now = self.clock()
        for key, job in activity.jobs.items():
            row = self._rows.get(key)
            if row is None:
                row = self._rows[key] = JobRow(job, now, activity.typical(job))
                jobs.mount(row)
            else:
                row.show(job, now, activity.typical(job))
        self.query_one("#idle", Static).display = not activity.jobs

    def show_cluster(self, activity: Activity) -> None:
        """A cluster runner's machines above the jobs; nothing for the local runner."""
        cluster = self.query_one("#cluster", Static)
        remote = bool(activity.runner) and activity.runner != "local"
        cluster.display = remote
        if remote:
            n = len(activity.nodes)
            head = Text(f"{activity.runner} · {n} node{'' if n == 1 else 's'}", style="bold")
            cluster.update(Text("\n").join([head, *(Text(f"  {line}") for line in activity.nodes)]))

    def tick(self) -> None:
        """Refresh elapsed times and ETAs (called once a second while a run is attached)."""
        now = self.clock()
        for row in self._rows.values():
            if row.is_mounted:
                row.show(row.job, now, row.typical)

    def show_ladder(
        self,
        rungs: Sequence[str],
        records: Mapping[str, DesignRecord],
        budgets: Mapping[str, int] | None,
        activity: Activity,
    ) -> None:
        self._ladder = (rungs, records, budgets, activity)
        counts = ladder_counts(records.values(), rungs)
        bars = not self.has_class("-narrow")
        pad = 10 if bars else max((len(r) for r in rungs), default=0) + 1
        lines = Text()
        for rung in rungs:
            count, training = counts[rung], activity.verifying.get(rung, 0)
            lines.append(f"{rung:<{pad}}", style="bold")
            if budgets is not None and rung in budgets:
                total = max(budgets[rung], 1)
                if bars:
                    filled = min(round(10 * (count.used + training) / total), 10)
                    lines.append("▰" * filled + "▱" * (10 - filled) + " ")
                lines.append(f"{count.used}/{budgets[rung]} used · ")
            lines.append(f"{count.passed} passed")
            if count.seeds:
                lines.append(f" ({count.seeds} seed{'s' if count.seeds > 1 else ''})", style="dim")
            if count.failed + count.failed_seeds:
                lines.append(f" · {count.failed + count.failed_seeds} failed")
            if training:
                lines.append(f" · {training} training")
            if self.sigmas.get(rung):
                lines.append(f" · σ {self.sigmas[rung]:.4f}", style="dim")
            lines.append("\n")
        if not rungs:
            lines.append("no rung verified yet", style="dim")
        lines.rstrip()
        self.query_one("#ladder", Static).update(lines)
