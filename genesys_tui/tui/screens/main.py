"""The main screen: evolution tree and leaderboard on top; dialogue, workers and ladder,
resources and budget below. It renders what the app hands it: design records (all at once on
load, a few at a time as the loop commits, checks and trains) and the loop's events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Header, Input, Static

from genesys_tui.evolve import events as ev
from genesys_tui.evolve.settings import EvolveConfig
from genesys_tui.store.records import DesignRecord
from genesys_tui.tui.activity import Activity
from genesys_tui.tui.board import row_of
from genesys_tui.tui.sampler import Sampler
from genesys_tui.tui.settings import DashboardConfig
from genesys_tui.tui.widgets.budget import BudgetPanel
from genesys_tui.tui.widgets.dialogue import DialogueLog
from genesys_tui.tui.widgets.errors import ErrorsPanel
from genesys_tui.tui.widgets.evolution_tree import EvolutionTree
from genesys_tui.tui.widgets.leaderboard import Leaderboard
from genesys_tui.tui.widgets.resources import ResourcesPanel
from genesys_tui.tui.widgets.workers import WorkersPanel


class MainScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "app.help", "help"),
        Binding("slash", "filter", "filter"),
        Binding("escape", "clear_filter", "clear filter", show=False),
        Binding("f", "toggle_focus", "tree/board"),
    ]

    def __init__(self, config: DashboardConfig, sampler: Sampler) -> None:
        super().__init__()
        self.config = config
        self.sampler = sampler
        self.records: dict[str, DesignRecord] = {}
        self.rungs: list[str] = []
        self.loaded = False
        self._filter_timer: Timer | None = None
        #: Rungs training fewer tokens skip the evaluation tasks (the eval column's "-").
        self.tasks_min_tokens = EvolveConfig().tasks_min_tokens

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        badge = Static(
            "UNSANDBOXED: design code runs without the bubblewrap wall (--no-sandbox)",
            id="unsandboxed",
        )
        badge.display = False  # shown by the app when the run it drives is unsandboxed
        yield badge
        with Horizontal(id="top"):
            tree = EvolutionTree(self.config.expand_limit, id="tree")
            tree.border_title = "evolution tree"
            yield tree
            with Vertical(id="board-box"):
                yield Input(placeholder="filter: words, or rungs>=2, fitness>0 …", id="filter")
                board = Leaderboard(id="board")
                yield board
        with Horizontal(id="bottom"):
            dialogue = DialogueLog(id="dialogue")
            dialogue.border_title = "agent dialogue"
            yield dialogue
            workers = WorkersPanel(id="workers")
            workers.border_title = "workers and ladder"
            yield workers
            with Vertical(id="side"):
                resources = ResourcesPanel(
                    self.sampler, self.config.sample_seconds, self.config.history, id="resources"
                )
                resources.border_title = "resources"
                yield resources
                budget = BudgetPanel(id="budget")
                budget.border_title = "budget"
                yield budget
        yield ErrorsPanel(id="errors")
        yield Footer()

    def on_resize(self) -> None:
        # A narrow footer packs its keys closer, so the run's keys stay on screen.
        self.query_one(Footer).compact = self.size.width < 120

    def on_mount(self) -> None:
        self.query_one("#board-box").border_title = "leaderboard"
        self.query_one("#filter", Input).display = False
        self.query_one(Leaderboard).focus()
        self.app.theme_changed_signal.subscribe(self, self._relabel)

    # ---- records -----------------------------------------------------------------------------

    def load(self, records: Sequence[DesignRecord], rungs: Sequence[str]) -> None:
        """Show every design (replacing what is shown)."""
        self.records = {r.id: r for r in records}
        self.rungs = list(rungs)
        self.query_one(EvolutionTree).load(list(records))
        seeds = [r for r in records if r.origin == "seed"]
        self.query_one(Leaderboard).load([row_of(r, self.rungs, seeds) for r in records])
        self.loaded = True
        self._legend()

    def update(self, records: Sequence[DesignRecord], rungs: Sequence[str]) -> None:
        """Show new or changed designs in place."""
        if list(rungs) != self.rungs:  # a new rung changes every row's best rung
            self.load([*{**self.records, **{r.id: r for r in records}}.values()], rungs)
            return
        tree, board = self.query_one(EvolutionTree), self.query_one(Leaderboard)
        for record in sorted(records, key=lambda r: r.seq):
            self.records[record.id] = record
        seeds = [r for r in self.records.values() if r.origin == "seed"]
        for record in sorted(records, key=lambda r: r.seq):
            tree.upsert(record)
            board.upsert(row_of(record, self.rungs, seeds))
        self._legend()

    def _legend(self) -> None:
        """Under the leaderboard, what an eval of "-" means, while a verified design has one."""
        rows = self.query_one(Leaderboard).rows_by_id.values()
        unexplained = any(r.rungs and r.evaluation is None for r in rows)
        self.query_one("#board-box").border_subtitle = (
            f"eval -: tasks skipped below {self.tasks_min_tokens:,} training tokens"
            if unexplained
            else ""
        )

    def show_run(
        self,
        activity: Activity,
        config: EvolveConfig | None,
        budgets: Mapping[str, int] | None,
    ) -> None:
        """Refresh the workers, ladder and budget panels."""
        workers = self.query_one(WorkersPanel)
        workers.show_jobs(activity)
        workers.show_ladder(self.rungs, self.records, budgets, activity)
        self.query_one(BudgetPanel).show(
            self.records.values(), config, activity.cost_usd, activity.defaulted_prices
        )
        self.query_one(ErrorsPanel).show(activity.errors)

    def add_dialogue(self, event: ev.Event) -> None:
        self.query_one(DialogueLog).add(event)

    def _relabel(self, _theme: object) -> None:
        self.query_one(EvolutionTree).relabel()
        self.query_one(Leaderboard).relabel()

    # ---- navigation --------------------------------------------------------------------------

    def select_design(self, design: str) -> bool:
        found = self.query_one(EvolutionTree).select_design(design)
        return self.query_one(Leaderboard).select_design(design) or found

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.display = False
        self.query_one(Leaderboard).set_filter("")
        self.query_one(Leaderboard).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        # Typing fast over thousands of designs filters once per pause, not once per key.
        if self._filter_timer is not None:
            self._filter_timer.stop()
        board = self.query_one(Leaderboard)
        self._filter_timer = self.set_timer(0.15, lambda: board.set_filter(event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(Leaderboard).focus()

    def action_toggle_focus(self) -> None:
        tree, board = self.query_one(EvolutionTree), self.query_one(Leaderboard)
        (board if tree.has_focus else tree).focus()
