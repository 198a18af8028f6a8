"""Budget: designs made against the run's limit, cost so far against the money budget, and
the valid-design rate (designs that passed the checker, of those it has judged)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.text import Text
from textual.widgets import Static

from genesys_tui.agents.stats import defaulted_note
from genesys_tui.evolve.settings import EvolveConfig
from genesys_tui.store.records import DesignRecord


def budget_text(
    records: Iterable[DesignRecord],
    config: EvolveConfig | None,
    cost_usd: float | None = None,
    defaulted: Sequence[str] = (),
) -> Text:
    """One line of figures; ``config`` None for a namespace viewed without a run."""
    made = judged = valid = 0
    cost = 0.0
    for r in records:
        if r.origin == "seed":
            continue
        made += 1
        cost += r.cost_usd
        if r.status != "proposed":
            judged += 1
            valid += r.status in ("checked", "verified")
    cost = cost if cost_usd is None else max(cost, cost_usd)
    text = Text()
    text.append("designs  ", style="dim")
    text.append(f"{made}", style="bold")
    text.append(f" of {config.max_designs}" if config else " (no run attached)")
    text.append("\ncost     ", style="dim")
    text.append(f"${cost:,.2f}", style="bold")
    if config is not None:
        text.append(f" of ${config.max_usd:,.2f}" if config.max_usd else " (no limit)")
    text.append("\nvalid    ", style="dim")
    text.append(f"{100 * valid / judged:.0f}%" if judged else "-", style="bold")
    text.append(f" ({valid} of {judged} checked)")
    if defaulted:  # the cost above is partly a guess: say for which models
        text.append(f"\n{defaulted_note(defaulted)}", style="bold red")
    return text


class BudgetPanel(Static):
    DEFAULT_CSS = """
    BudgetPanel { background: $surface; height: auto; padding: 0 1; }
    """

    def show(
        self,
        records: Iterable[DesignRecord],
        config: EvolveConfig | None,
        cost_usd: float | None = None,
        defaulted: Sequence[str] = (),
    ) -> None:
        self.update(budget_text(records, config, cost_usd, defaulted))
