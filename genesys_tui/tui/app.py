"""GenesysApp: the dashboard. It opens a namespace, drives (or only views) its evolution run,
and hands the run's events and the store's records to the screens.

Threads: the loop runs in a Textual thread worker (``LiveRun.run``); store reads run in thread
workers; loop events arrive on the loop's threads and are posted to the UI thread as messages.
Every check and verification runs in a child process of the loop's runner, never here.
"""

from __future__ import annotations

import dataclasses
import threading
import traceback
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.command import SimpleCommand
from textual.message import Message
from textual.screen import Screen
from textual.theme import Theme

from genesys_tui.errors import GenesysError
from genesys_tui.evolve import events as ev
from genesys_tui.evolve.session import ladder_rungs
from genesys_tui.evolve.settings import EvolveConfig
from genesys_tui.store.records import DesignRecord
from genesys_tui.tui.activity import Activity
from genesys_tui.tui.board import rung_order
from genesys_tui.tui.catalog import Catalog, namespaces
from genesys_tui.tui.curves import CurveLog, curves_dir
from genesys_tui.tui.details import load_details
from genesys_tui.tui.live import LiveRun
from genesys_tui.tui.sampler import Sampler, SystemSampler
from genesys_tui.tui.screens.confirm import ConfirmScreen
from genesys_tui.tui.screens.errors import ErrorsScreen
from genesys_tui.tui.screens.help import HelpScreen, key_sections
from genesys_tui.tui.screens.inspector import InspectorScreen
from genesys_tui.tui.screens.main import MainScreen
from genesys_tui.tui.settings import DashboardConfig
from genesys_tui.tui.themes import load_themes, resolve_theme

#: Events whose design the dashboard re-reads from the store.
DESIGN_EVENTS = (ev.DesignCommitted, ev.CheckFinished, ev.RungFinished)
DIALOGUE_EVENTS = (ev.Dialogue, ev.DesignProposed, ev.DesignCommitted, ev.LoopError)


class LoopEvent(Message):
    """A loop event, posted from the loop's thread to the UI thread."""

    def __init__(self, event: ev.Event) -> None:
        super().__init__()
        self.event = event


class LoopEnded(Message):
    """The evolution loop returned (the run is closed); ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class GenesysApp(App[None]):
    TITLE = "Genesys"
    CSS_PATH = "styles/app.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        # The run's keys first: a narrow footer cuts from the end (? lists every key).
        Binding("p", "pause", "pause/resume"),
        Binding("x", "stop", "stop"),
        Binding("g", "start", "start"),
        Binding("q", "quit", "quit"),
        Binding("e", "errors", "errors"),
        Binding("j", "jump", "jump"),
        Binding("n", "switch_namespace", "namespace"),
        Binding("t", "change_theme", "theme"),
        Binding("question_mark,f1", "help", "help", show=False),  # MainScreen shows "? help"
    ]

    def __init__(
        self,
        path: Path,
        *,
        evolve: EvolveConfig | None = None,
        config: DashboardConfig | None = None,
        sampler: Sampler | None = None,
        themes: dict[str, Theme] | None = None,
    ) -> None:
        """Open the namespace repository at ``path``; with ``evolve``, drive its evolution loop
        with those settings (the namespace is created when missing), else view it read-only."""
        super().__init__()
        self.config = config or DashboardConfig()
        self.path = Path(path)
        self.root = self.path.parent
        self.themes = load_themes() if themes is None else themes
        for theme in self.themes.values():
            self.register_theme(theme)
        self.initial_theme = resolve_theme(self.config.theme, self.themes)
        self.sampler = sampler or SystemSampler()
        self.live: LiveRun | None = None
        if evolve is not None:
            evolve = dataclasses.replace(evolve, namespace=self.path.name)
            self.live = LiveRun(evolve, self.root, self._from_loop)
            self.live.start_paused = self.config.paused
        self.catalog: Catalog | None = None
        self.curves = CurveLog(curves_dir(self.path))
        self.activity = Activity()
        self.ladder = ladder_rungs(evolve or EvolveConfig())
        self.main = MainScreen(self.config, self.sampler)
        self.sigmas = _sigmas(evolve or EvolveConfig())
        self.main.tasks_min_tokens = (evolve or EvolveConfig()).tasks_min_tokens
        self._dirty: set[str] = set()
        self._loop_done = threading.Event()
        self._loop_done.set()
        self._stops = 0

    # ---- life cycle --------------------------------------------------------------------------

    async def on_mount(self) -> None:
        self.theme = self.initial_theme
        await self.push_screen(self.main)
        from genesys_tui.tui.widgets.workers import WorkersPanel

        self.main.query_one(WorkersPanel).sigmas = self.sigmas
        self._show_state()
        self._open(self.path, start=self.live is not None)
        if self.config.refresh_seconds > 0:
            self.set_interval(self.config.refresh_seconds, self._refresh_dirty)
            self.set_interval(1.0, self._tick)

    @property
    def viewing_live(self) -> bool:
        return self.live is not None and self.path == self.live.path

    @work(thread=True, exclusive=True, group="open")
    def _open(self, path: Path, start: bool = False) -> None:
        """Read the namespace at ``path``; with ``start``, open the live run there (creating
        the namespace if needed) and start its loop once the designs are shown."""
        try:
            if start and self.live is not None and path == self.live.path:
                self.live.open()
            catalog = Catalog(path)
            records = catalog.records()
        except GenesysError as exc:
            self.call_from_thread(self._open_failed, path, exc)
            return
        self.call_from_thread(self._opened, catalog, records, start)
        events = ev.read_events(path / ".git" / "genesys" / "events.jsonl")
        self.call_from_thread(self._replay, events[-400:])

    def _open_failed(self, path: Path, exc: GenesysError) -> None:
        if self.live is not None and path == self.live.path:
            self.notify(f"{exc}\nShowing it read-only.", severity="warning", timeout=10)
            self.live = None
            self._open(path)
            return
        self.notify(str(exc), severity="error", timeout=10)

    def _opened(self, catalog: Catalog, records: list[DesignRecord], start: bool) -> None:
        if self.catalog is not None:
            self.catalog.close()
        self.catalog = catalog
        self.path = catalog.path
        self.curves = CurveLog(curves_dir(self.path))
        self.main.load(records, rung_order(records, self.ladder))
        self._show_state()
        for notice in catalog.notices:
            self.notify(notice, timeout=8)
        if start and self.viewing_live and self._loop_done.is_set():
            self._run_loop()

    def _replay(self, events: list[ev.Event]) -> None:
        for event in events:
            if isinstance(event, DIALOGUE_EVENTS):
                self.main.add_dialogue(event)
            elif isinstance(event, ev.CostUpdate | ev.CheckFinished | ev.RungFinished):
                self.activity.apply(event)  # costs, and how long checks and trainings take
        # The errors of earlier runs stay in the errors panel, beside any the loop sent since.
        replayed = [e for e in events if isinstance(e, ev.LoopError)]
        merged = {*replayed, *self.activity.errors}
        self.activity.errors = sorted(merged, key=lambda e: e.ts)[-20:]
        self._show_state()

    def _run_loop(self) -> None:
        assert self.live is not None
        self._loop_done.clear()
        self._stops = 0
        self.activity.end_jobs()  # a new run starts from a clean workers view
        self.run_worker(self._evolve, thread=True, group="evolution", name="evolution")

    def _evolve(self) -> None:
        # Posts, never call_from_thread: while the app exits, its UI thread waits for this one.
        assert self.live is not None
        try:
            reason = self.live.run()
        except Exception as exc:  # a loop that cannot start (bad ladder, ...) is reported
            reason = f"it failed: {type(exc).__name__}: {exc}. Press g to try again"
            self.post_message(
                LoopEvent(
                    ev.LoopError(
                        message=f"evolution could not run: {reason}",
                        traceback=traceback.format_exc(),
                    )
                )
            )
        self._loop_done.set()
        self.post_message(LoopEnded(reason))

    def on_loop_ended(self, message: LoopEnded) -> None:
        self.activity.end_jobs()  # the run is closed: none of its jobs is running any more
        if not self.is_running:
            return
        self.notify(f"evolution ended: {message.reason}", timeout=8)
        self._show_state()
        if self.viewing_live:
            self._open(self.path)  # the writer closed: the index now holds every result

    def on_unmount(self) -> None:
        if self.live is not None and not self._loop_done.is_set():
            self.live.stop(abandon=True)
            self._loop_done.wait(timeout=60)
        if self.catalog is not None:
            self.catalog.close()

    # ---- events ------------------------------------------------------------------------------

    def _from_loop(self, event: ev.Event) -> None:
        """The bus subscriber: runs on the loop's threads, so it only posts."""
        self.post_message(LoopEvent(event))

    def on_loop_event(self, message: LoopEvent) -> None:
        event = message.event
        self.activity.apply(event)
        if not self.is_running:  # shutting down: the loop still reports while the screens go
            return
        if isinstance(event, DIALOGUE_EVENTS):
            self.main.add_dialogue(event)
        if isinstance(event, DESIGN_EVENTS) and self.viewing_live:
            self._dirty.add(event.design)
        if isinstance(event, ev.LoopState):
            self._show_state()
        self._show_run()

    def _refresh_dirty(self) -> None:
        if self._dirty and self.catalog is not None:
            designs, self._dirty = sorted(self._dirty), set()
            self._read_fresh(self.catalog, designs)

    @work(thread=True, group="refresh")
    def _read_fresh(self, catalog: Catalog, designs: list[str]) -> None:
        records = []
        for design in designs:
            try:
                records.append(catalog.fresh(design))
            except GenesysError:
                continue  # not visible to a reader yet: the next event names it again
        self.call_from_thread(self._apply_fresh, catalog, records)

    def _apply_fresh(self, catalog: Catalog, records: list[DesignRecord]) -> None:
        if catalog is not self.catalog:
            return  # the namespace was switched meanwhile
        merged = {**self.main.records, **{r.id: r for r in records}}
        self.main.update(records, rung_order(merged.values(), self.ladder))
        self._show_run()

    def _tick(self) -> None:
        if self.activity.jobs:
            self.main.query_one("#workers").tick()  # type: ignore[attr-defined]

    def _show_run(self) -> None:
        if not self.main.loaded:
            return
        live = self.live if self.viewing_live else None
        loop = live.loop if live is not None else None
        self.main.show_run(
            self.activity,
            live.config if live is not None else None,
            loop.budgets if loop is not None else None,
        )

    @property
    def state(self) -> str:
        """What the dashboard says about the run: read-only, running, paused, finished, ..."""
        if self.live is None:
            return "read-only"
        loop = self.live.loop
        if loop is None:
            return "stopped" if self._loop_done.is_set() else "starting"
        if loop.paused and self.activity.state in ("idle", "running", "paused"):
            return "paused"
        return self.activity.state if self.activity.state != "idle" else "starting"

    def _show_state(self) -> None:
        where = self.path.name
        if self.live is not None and not self.viewing_live:
            where += f" (read-only; evolution runs in {self.live.path.name})"
        self.main.sub_title = f"{where} · {self.state}"
        self._show_sandbox()
        self._show_run()

    def _show_sandbox(self) -> None:
        """The red badge while this dashboard drives a run without the wall."""
        from textual.css.query import NoMatches
        from textual.widgets import Static

        from genesys_tui import wall

        try:
            badge = self.main.query_one("#unsandboxed", Static)
        except NoMatches:
            return
        badge.display = self.live is not None and wall.unsandboxed()

    # ---- actions -----------------------------------------------------------------------------

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(key_sections(self, self.screen)))

    def action_errors(self) -> None:
        if not isinstance(self.screen, ErrorsScreen):
            self.push_screen(ErrorsScreen(self.activity.errors))

    @property
    def jobs_in_flight(self) -> int:
        """Jobs the loop is running now (0 without a running loop)."""
        if self.live is None or self._loop_done.is_set():
            return 0
        return len(self.activity.jobs)

    async def action_quit(self) -> None:
        """Quit, after asking when jobs are in flight (quitting abandons them)."""
        jobs = self.jobs_in_flight
        if not jobs:
            self.exit()
            return
        if isinstance(self.screen, ConfirmScreen):
            return
        question = (
            f"{jobs} job{'s are' if jobs > 1 else ' is'} in flight. Quitting abandons "
            f"{'them' if jobs > 1 else 'it'} (a resume runs {'them' if jobs > 1 else 'it'} "
            "again). Quit anyway?"
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.exit()

        self.push_screen(ConfirmScreen(question), answered)

    def _need_live(self) -> LiveRun | None:
        if self.live is None:
            self.notify("read-only view: no evolution run is attached", severity="warning")
        return self.live

    def action_pause(self) -> None:
        live = self._need_live()
        if live is None:
            return
        loop = live.loop
        if loop is None:
            self.notify("evolution is not running; start it with g")
            return
        live.pause(not loop.paused)
        self._show_state()

    def action_stop(self) -> None:
        live = self._need_live()
        if live is None or live.loop is None:
            return
        self._stops += 1
        live.stop(abandon=self._stops > 1)
        self.notify(
            "abandoning the jobs in flight (a resume reruns them)"
            if self._stops > 1
            else "stopping: finishing the jobs in flight (x again abandons them)"
        )
        self._show_state()

    def action_start(self) -> None:
        live = self._need_live()
        if live is None:
            return
        if not self._loop_done.is_set():
            if live.loop is not None and live.loop.paused:
                live.pause(False)
            self._show_state()
            return
        if not self.viewing_live:
            self._open(live.path, start=True)
            return
        self._run_loop()
        self._show_state()

    def action_jump(self) -> None:
        commands = [
            SimpleCommand(f"{r.id}  {r.title}", partial(self.jump_to, r.id), r.status)
            for r in sorted(self.main.records.values(), key=lambda r: -r.seq)
        ]
        self.search_commands(commands, placeholder="Jump to design…")

    def jump_to(self, design: str) -> None:
        if not self.main.select_design(design):
            self.notify(f"{design} is not shown (clear the filter with Escape)")

    def action_switch_namespace(self) -> None:
        commands = [
            SimpleCommand(name, partial(self.switch_namespace, name), "open this namespace")
            for name in namespaces(self.root)
        ]
        self.search_commands(commands, placeholder="Switch namespace…")

    def switch_namespace(self, name: str) -> None:
        self._dirty.clear()
        self._open(self.root / name)

    def action_inspect(self, design: str) -> None:
        if self.catalog is None:
            return
        screen = InspectorScreen(design)
        self.push_screen(screen)
        self._read_details(self.catalog, screen)

    @work(thread=True, group="details")
    def _read_details(self, catalog: Catalog, screen: InspectorScreen) -> None:
        try:
            details = load_details(catalog, screen.design, self.main.rungs, self.curves,
                                   self.sigmas)  # fmt: skip
        except GenesysError as exc:
            self.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.call_from_thread(screen.show, details)

    def on_evolution_tree_inspect(self, message: Message) -> None:
        self.action_inspect(message.design)  # type: ignore[attr-defined]

    def on_leaderboard_inspect(self, message: Message) -> None:
        self.action_inspect(message.design)  # type: ignore[attr-defined]

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Start evolution", "Run (or resume) the loop", self.action_start)
        yield SystemCommand("Pause or resume evolution", "Toggle the pause", self.action_pause)
        yield SystemCommand("Stop evolution", "Finish jobs in flight, then stop", self.action_stop)
        yield SystemCommand("Jump to design", "Find a design by id or title", self.action_jump)
        yield SystemCommand("Errors", "The loop's errors with their tracebacks", self.action_errors)
        yield SystemCommand(
            "Switch namespace", "Open another designs repository", self.action_switch_namespace
        )


def _sigmas(config: EvolveConfig) -> dict[str, float]:
    """The ladder's measured score noise per rung; none where the ladder does not load (the
    run that uses it reports why)."""
    from genesys_tui.errors import GenesysError
    from genesys_tui.ladder import rung_sigmas

    try:
        return rung_sigmas(config.ladder)
    except GenesysError:
        return {}
