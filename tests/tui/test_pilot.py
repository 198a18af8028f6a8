"""The dashboard driven by keys, against namespaces built by the tests with the real store."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Markdown, Static, TabbedContent

from genesys_tui.store.repo import DesignsRepo
from genesys_tui.tui.screens.inspector import InspectorScreen
from genesys_tui.tui.widgets.evolution_tree import EvolutionTree
from genesys_tui.tui.widgets.leaderboard import Leaderboard
from genesys_tui.tui.widgets.plot import LossPlot
from tests.tui.helpers import SIZE, make_app, settled, until

pytestmark = pytest.mark.asyncio


def _ids(path: Path) -> dict[str, str]:
    with DesignsRepo.open(path) as repo:
        records = repo.records()
    return {r.origin if r.origin != "seed" else r.id: r.id for r in records}


async def test_leaderboard_lists_every_design_ranked_by_fitness(pilot_ns: Path) -> None:
    ids = _ids(pilot_ns)
    async with make_app(pilot_ns).run_test(size=SIZE) as pilot:
        await settled(pilot)
        board = pilot.app.screen.query_one(Leaderboard)
        assert board.row_count == 4
        assert [r.design for r in board.shown[:2]] == [ids["crossover"], ids["mutation"]]
        assert "read-only" in pilot.app.screen.sub_title


async def test_enter_opens_the_inspector_with_proposal_units_and_loss_curve(
    pilot_ns: Path,
) -> None:
    ids = _ids(pilot_ns)
    async with make_app(pilot_ns).run_test(size=SIZE) as pilot:
        await settled(pilot)
        assert pilot.app.screen.query_one(Leaderboard).select_design(ids["mutation"])
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, InspectorScreen))
        screen = pilot.app.screen
        assert isinstance(screen, InspectorScreen)
        await until(pilot, lambda: screen.details is not None)
        await pilot.pause()
        proposal = screen.query_one("#proposal-body Markdown", Markdown)
        assert "What changed" in proposal.source
        assert screen.query_one("#unit-tree")  # the unit tree is shown
        await pilot.press("l")
        assert screen.active_tab == "rungs"
        plot = screen.query_one(LossPlot)
        assert len(plot.points) == 40  # the curve the run recorded, every step
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(pilot.app.screen, InspectorScreen))


async def test_d_shows_the_diff_against_each_parent_of_a_crossover(pilot_ns: Path) -> None:
    ids = _ids(pilot_ns)
    async with make_app(pilot_ns).run_test(size=SIZE) as pilot:
        await settled(pilot)
        pilot.app.screen.query_one(Leaderboard).select_design(ids["crossover"])
        await pilot.press("enter")
        await until(pilot, lambda: getattr(pilot.app.screen, "details", None) is not None)
        await pilot.press("d")
        screen = pilot.app.screen
        assert screen.query_one(TabbedContent).active == "diff"
        titles = [str(s.render()) for s in screen.query("#diff-body .file-title").results(Static)]
        assert titles == [f"against {ids['mutation']}", "against retnet-2"]
        assert set(screen.details.diffs) == {ids["mutation"], "retnet-2"}  # type: ignore[attr-defined]
        assert all("diff --git" in d for d in screen.details.diffs.values())  # type: ignore[attr-defined]


async def test_tree_shows_a_crossover_under_both_parents(pilot_ns: Path) -> None:
    ids = _ids(pilot_ns)
    async with make_app(pilot_ns).run_test(size=SIZE) as pilot:
        await settled(pilot)
        tree = pilot.app.screen.query_one(EvolutionTree)
        labels = {}
        for node in [tree.root, *tree.root.children]:
            for child in node.children:
                labels.setdefault(str(child.data), []).append(child.label.plain)
        crossover = ids["crossover"]
        # Drawn once under its first parent (the mutation), linked under the RetNet seed.
        link = next(lbl for lbl in labels[crossover] if lbl.startswith("⤷"))
        assert f"under {ids['mutation']}" in link
        assert tree.select_design(crossover)


async def test_slash_filters_designs_and_escape_clears_the_filter(pilot_ns: Path) -> None:
    ids = _ids(pilot_ns)
    async with make_app(pilot_ns).run_test(size=SIZE) as pilot:
        await settled(pilot)
        board = pilot.app.screen.query_one(Leaderboard)
        await pilot.press("slash")
        await pilot.press(*"retnet")
        await until(pilot, lambda: board.row_count == 2)  # the seed and the crossover
        assert {r.design for r in board.shown} == {"retnet-2", ids["crossover"]}
        await pilot.press("escape")
        await until(pilot, lambda: board.row_count == 4)


async def test_sort_keys_reorder_the_leaderboard(pilot_ns: Path) -> None:
    async with make_app(pilot_ns).run_test(size=SIZE) as pilot:
        await settled(pilot)
        board = pilot.app.screen.query_one(Leaderboard)
        board.focus()
        await pilot.press("s")  # fitness -> status
        await pilot.press("s")  # -> design (commit order)
        assert board.sort_column == "design"
        assert [r.seq for r in board.shown] == [1, 2, 3, 4]
        await pilot.press("r")
        assert [r.seq for r in board.shown] == [4, 3, 2, 1]


async def test_theme_is_switched_from_the_palette(pilot_ns: Path) -> None:
    async with make_app(pilot_ns, theme="dark").run_test(size=SIZE) as pilot:
        await settled(pilot)
        assert pilot.app.theme == "genesys-dark"
        await pilot.press("t")
        await pilot.press(*"genesys-light")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: pilot.app.theme == "genesys-light")
        assert not pilot.app.current_theme.dark


async def test_pause_resume_and_new_designs_appear_while_the_loop_runs(pilot_ns: Path) -> None:
    from genesys_tui.evolve.settings import EvolveConfig

    # One more design allowed, no rung budget left: the loop designs and checks, never trains.
    evolve = EvolveConfig(max_designs=3, max_rungs=1, first_rung_budget=2, check_timeout=60)
    app = make_app(pilot_ns, evolve=evolve, paused=True)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        await until(pilot, lambda: app.live is not None and app.live.loop is not None)
        await until(pilot, lambda: "paused" in app.screen.sub_title)
        board = app.screen.query_one(Leaderboard)
        assert board.row_count == 4
        await pilot.press("p")  # resume: the offline designer commits a new design
        assert not app.live.loop.paused  # type: ignore[union-attr]
        await until(pilot, lambda: board.row_count == 5)
        new = max(board.rows_by_id.values(), key=lambda r: r.seq)
        assert new.designer == "offline-mutator" and new.seq == 5
        await pilot.press("p")
        assert app.live.loop.paused  # type: ignore[union-attr]
        await until(pilot, lambda: "paused" in app.screen.sub_title)
        await pilot.press("x", "x")  # stop, then abandon the check in flight
        await until(pilot, lambda: "stopped" in app.screen.sub_title)
        await pilot.pause(0.5)
        assert app.live.loop is None  # a finished run is not restarted behind the user's back
    # Leaving the dashboard stops the loop and releases the namespace's writer lock.
    with DesignsRepo.open(pilot_ns, writer=True) as repo:
        assert len(repo.records()) == 5
