"""What a newcomer expects of the dashboard: a help screen, the run's keys in read-only view,
reasons for rejected designs, ladder counts that agree, errors that stay on screen."""

from __future__ import annotations

import io
import time
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import Footer, Label, Static, Tab, Tabs
from textual.widgets._footer import FooterKey

from genesys_tui.evolve import events as ev
from genesys_tui.tui.app import LoopEvent
from genesys_tui.tui.screens.confirm import ConfirmScreen
from genesys_tui.tui.screens.errors import ErrorsScreen
from genesys_tui.tui.screens.help import HelpScreen
from genesys_tui.tui.screens.inspector import InspectorScreen
from genesys_tui.tui.widgets.dialogue import PLACEHOLDER, DialogueLog
from genesys_tui.tui.widgets.errors import ErrorsPanel
from genesys_tui.tui.widgets.leaderboard import Leaderboard
from genesys_tui.tui.widgets.workers import JobRow, LossSpark
from tests.tui.helpers import SIZE, make_app, settled, until

pytestmark = pytest.mark.asyncio


def _text(widget: Static) -> str:
    return str(widget.render())


async def test_rejected_design_says_why_in_its_row_and_the_inspectors_first_line(
    snapshot_ns: Path,
) -> None:
    async with make_app(snapshot_ns).run_test(size=SIZE) as pilot:
        await settled(pilot)
        board = pilot.app.screen.query_one(Leaderboard)
        assert board.rows_by_id["gpt-narrow-5"].reason == "check: param_budget"
        row = board.shown.index(board.rows_by_id["gpt-narrow-5"])
        assert "check: param_budget" in board.render_line(row + 1).text
        assert board.select_design("gpt-narrow-5")
        await pilot.press("enter")
        await until(pilot, lambda: getattr(pilot.app.screen, "details", None) is not None)
        screen = pilot.app.screen
        assert isinstance(screen, InspectorScreen)
        first = _text(screen.query_one("#facts", Static)).splitlines()[0]
        assert first == "rejected: check: param_budget"


async def test_ladder_counts_match_the_leaderboard(snapshot_ns: Path) -> None:
    async with make_app(snapshot_ns).run_test(size=SIZE) as pilot:
        await settled(pilot)
        board = pilot.app.screen.query_one(Leaderboard)
        ladder = _text(pilot.app.screen.query_one("#ladder", Static))
        at_first = sum(1 for r in board.rows_by_id.values() if r.rungs >= 1)
        at_second = sum(1 for r in board.rows_by_id.values() if r.rungs >= 2)
        assert (at_first, at_second) == (4, 1)
        assert f"cpu-xs    {at_first} passed (1 seed)" in ladder
        assert f"cpu-s     {at_second} passed" in ladder


@pytest.mark.parametrize("key", ["question_mark", "f1"])
async def test_help_lists_every_key_and_closes(snapshot_ns: Path, key: str) -> None:
    async with make_app(snapshot_ns).run_test(size=SIZE) as pilot:
        await settled(pilot)
        await pilot.press(key)
        await until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))
        screen = pilot.app.screen
        assert isinstance(screen, HelpScreen)
        where = dict(screen.sections)
        assert {"everywhere", "main screen", "leaderboard", "evolution tree"} <= set(where)
        everywhere = dict((what, keys) for keys, what in where["everywhere"])
        assert everywhere["help"] == "?/f1" and everywhere["errors"] == "e"
        for what in ("quit", "pause/resume", "stop", "start", "jump", "namespace", "theme"):
            assert what in everywhere
        board = dict((what, keys) for keys, what in where["leaderboard"])
        assert (board["inspect"], board["sort"], board["reverse"]) == ("⏎", "s", "r")
        for close in ("escape", "q", "question_mark"):
            await pilot.press(close)
            await until(pilot, lambda: not isinstance(pilot.app.screen, HelpScreen))
            await pilot.press(key)
            await until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))
        await pilot.press("escape")
        await until(pilot, lambda: pilot.app.screen is pilot.app.main)  # type: ignore[attr-defined]


async def test_help_in_the_inspector_lists_its_tab_keys(snapshot_ns: Path) -> None:
    async with make_app(snapshot_ns).run_test(size=SIZE) as pilot:
        await settled(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, InspectorScreen))
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))
        inspector = dict(pilot.app.screen.sections)["design inspector"]  # type: ignore[attr-defined]
        assert ("k", "Checks") in inspector and ("esc/q", "back") in inspector


async def test_read_only_footer_still_offers_pause_stop_and_start(snapshot_ns: Path) -> None:
    async with make_app(snapshot_ns).run_test(size=SIZE) as pilot:
        await settled(pilot)
        assert "read-only" in str(pilot.app.screen.sub_title)
        footer = pilot.app.screen.query_one(Footer)
        shown = {key.key: key.description for key in footer.query(FooterKey)}
        assert (shown["p"], shown["x"], shown["g"]) == ("pause/resume", "stop", "start")
        assert shown["question_mark"] == "help"
        for key in ("p", "x", "g"):
            await pilot.press(key)
            await pilot.pause()
            said = [n.message for n in pilot.app._notifications]
            assert said and "read-only" in said[-1]
            pilot.app.clear_notifications()


async def test_loop_errors_stay_in_a_panel_and_open_with_their_traceback(
    snapshot_ns: Path,
) -> None:
    app = make_app(snapshot_ns)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        panel = app.main.query_one(ErrorsPanel)
        assert not panel.display  # no errors: no panel
        for i in range(3):
            error = ev.LoopError(
                message=f"boom {i}\nsecond line", design=f"gpt-{i}",
                traceback=f"Traceback (most recent call last):\n  File x, line {i}\nValueError",
            )  # fmt: skip
            app.post_message(LoopEvent(error))
        await until(pilot, lambda: panel.count == 3)
        await pilot.pause()
        assert panel.display
        lines = _text(panel).splitlines()
        assert lines[0].startswith("3 errors")
        assert "[gpt-2] boom 2" in lines[1] and "[gpt-1] boom 1" in lines[2]
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ErrorsScreen))
        shown = [_text(s) for s in app.screen.query(Static)]
        assert any(t == "boom 0\nsecond line" for t in shown)
        assert any("File x, line 2" in t for t in shown)
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.main)
        assert panel.display  # still there: errors are not only toasts


async def test_quitting_with_jobs_in_flight_asks_first(pilot_ns: Path) -> None:
    from genesys_tui.evolve.settings import EvolveConfig

    app = make_app(pilot_ns, evolve=EvolveConfig(max_designs=4, check_timeout=60), paused=True)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        await until(pilot, lambda: app.live is not None and app.live.loop is not None)
        app.post_message(LoopEvent(ev.RungStarted(design="gpt-1", rung="cpu-m")))
        await until(pilot, lambda: app.jobs_in_flight == 1)
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")  # cancel: the dashboard stays
        await until(pilot, lambda: app.screen is app.main)
        assert app.is_running
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: not app.is_running)


async def test_quitting_without_jobs_does_not_ask(snapshot_ns: Path) -> None:
    app = make_app(snapshot_ns)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running)


async def test_main_screen_shows_training_loss_sparkline_and_etas(snapshot_ns: Path) -> None:
    app = make_app(snapshot_ns)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        now = time.time()
        events: list[ev.Event] = [
            ev.CheckFinished(design="gpt-1", ok=True, summary="passed", seconds=600.0),
            ev.WorkerStatus(worker="checker", state="checking", job="gpt-narrow-5", ts=now),
            ev.RungStarted(design="gpt-cross-4", rung="cpu-m", ts=now),
        ]
        events += [
            ev.TrainingProgress("gpt-cross-4", "cpu-m", step, 1000, 8.0 - step / 10, 900.0,
                                elapsed=step * 2.0)
            for step in range(1, 21)
        ]  # fmt: skip
        for event in events:
            app.post_message(LoopEvent(event))
        await until(pilot, lambda: len(app.main.query(LossSpark)) == 1)
        await until(pilot, lambda: len(app.main.query_one(LossSpark).losses) == 20)
        await until(pilot, lambda: len(app.main.query(JobRow)) == 2)
        await until(pilot, lambda: all(str(r.query_one("#what", Label).render())
                                       for r in app.main.query(JobRow)))  # fmt: skip
        await pilot.pause(0.3)
        rows = {row.job.kind: row for row in app.main.query(JobRow)}
        train = str(rows["train"].query_one("#what", Label).render())
        assert train == "train gpt-cross-4  ETA 32m40s"  # 2 s a step
        check = str(rows["check"].query_one("#what", Label).render())
        assert check.startswith("check gpt-narrow-5  ETA 9m") or check.startswith(
            "check gpt-narrow-5  ETA 10m"
        )
        spark = str(app.main.query_one(LossSpark).render())
        assert spark.startswith("cpu-m  loss █")
        assert spark.endswith("▁ 6.000 · 20/1000")  # the throughput left for the bars


async def test_dialogue_reads_in_order_and_says_when_it_is_empty(tmp_path: Path) -> None:
    from genesys_tui.store.repo import DesignsRepo

    path = tmp_path / "designs" / "empty"
    DesignsRepo.create(path, seeds=False).close()
    app = make_app(path)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        log = app.main.query_one(DialogueLog)
        shown = lambda: " ".join(s.text.strip() for s in log.lines)  # noqa: E731
        assert log.lines_text == [] and shown() == PLACEHOLDER
        for event in (
            ev.Dialogue(role="designer", text="Swap the norm\nfor a LayerNorm.\n", session="d-7"),
            ev.DesignProposed(
                title="LayerNorm",
                parents=("gpt-1",),
                designer="offline",
                operation="mutation",
                reason="explore",
            ),
            ev.DesignCommitted(design="gpt-7", commit="0" * 40, parents=("gpt-1",), status="valid"),
        ):
            app.post_message(LoopEvent(event))
        await until(pilot, lambda: len(log.lines_text) == 4)
        assert log.lines_text == [
            "· offline proposes 'LayerNorm': mutation of gpt-1",  # the session's headline first
            "designer  d-7",
            "Swap the norm\nfor a LayerNorm.",
            "· committed gpt-7 [valid]",
        ]
        assert PLACEHOLDER not in shown()


async def test_code_tab_switches_between_the_designs_unit_files(snapshot_ns: Path) -> None:
    async with make_app(snapshot_ns).run_test(size=SIZE) as pilot:
        await settled(pilot)
        pilot.app.main.select_design("gpt-cross-4")  # type: ignore[attr-defined]
        await pilot.press("enter")
        await until(pilot, lambda: getattr(pilot.app.screen, "details", None) is not None)
        screen = pilot.app.screen
        assert isinstance(screen, InspectorScreen) and screen.details is not None
        files = screen.details.code_files
        assert len(files) > 1
        await pilot.press("c")
        await pilot.pause()
        tabs = screen.query_one("#code-files", Tabs)
        assert [str(t.label) for t in tabs.query(Tab)] == files
        assert screen.code_file == files[0]
        await pilot.press("right_square_bracket")
        await until(pilot, lambda: screen.code_file == files[1])
        view = screen.query_one("#code-view", Static)
        assert view.visual is not None
        assert screen.details.files[files[1]].splitlines()[0] in _plain(view, 200)
        await pilot.press("left_square_bracket", "left_square_bracket")
        await until(pilot, lambda: screen.code_file == files[-1])


def _plain(widget: Static, width: int) -> str:
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


async def test_checks_tab_wraps_a_long_hint(snapshot_ns: Path) -> None:
    hint = " ".join(f"word{i}" for i in range(60))
    async with make_app(snapshot_ns).run_test(size=SIZE) as pilot:
        await settled(pilot)
        pilot.app.main.select_design("gpt-narrow-5")  # type: ignore[attr-defined]
        await pilot.press("enter")
        await until(pilot, lambda: getattr(pilot.app.screen, "details", None) is not None)
        screen = pilot.app.screen
        assert isinstance(screen, InspectorScreen) and screen.details is not None
        await pilot.press("k")
        await pilot.pause()
        assert "reduce expand" in _plain(screen.query_one("#findings", Static), SIZE[0] - 4)
        details = screen.details
        assert details.check is not None
        finding = {**details.check.findings[0], "hint": hint}
        long = replace(details, check=replace(details.check, findings=(finding,)))
        table = InspectorScreen._checks(long)[-1]
        shown = _plain(table, SIZE[0] - 4)
        assert all(f"word{i}" in shown.split() for i in range(60))  # every word, none cut


async def test_eval_dash_is_explained_under_the_board_and_in_the_inspector(
    pilot_ns: Path,
) -> None:
    from genesys_tui.store.repo import DesignsRepo

    note = "tasks skipped: rung cpu-s trains 65,536 tokens, fewer than 1,000,000"
    with DesignsRepo.open(pilot_ns, writer=True) as repo:
        repo.attach("gpt-1", "rung:cpu-s", {
            "scores": {"score": 0.5, "bpb": 1.9}, "seconds": 6.0,
            "detail": {"ok": True, "evals": {}, "notes": [note]},
        })  # fmt: skip
    app = make_app(pilot_ns)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        board = app.main.query_one(Leaderboard)
        assert board.rows_by_id["gpt-1"].evaluation is None
        legend = str(app.main.query_one("#board-box").border_subtitle)
        assert legend == "eval -: tasks skipped below 1,000,000 training tokens"
        board.select_design("gpt-1")
        await pilot.press("enter")
        await until(pilot, lambda: getattr(app.screen, "details", None) is not None)
        assert f"cpu-s: {note}" in _text(app.screen.query_one("#facts", Static)).splitlines()


async def test_errors_of_earlier_runs_are_shown_on_opening(pilot_ns: Path) -> None:
    bus = ev.EventBus(pilot_ns / ".git" / "genesys" / "events.jsonl")
    bus.emit(ev.LoopError(message="the loop crashed", traceback="Traceback ...\nSystemError"))
    bus.close()
    app = make_app(pilot_ns)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        panel = app.main.query_one(ErrorsPanel)
        await until(pilot, lambda: panel.count == 1)
        assert panel.display and "the loop crashed" in _text(panel)


async def test_narrow_worker_rows_keep_the_design_name(snapshot_ns: Path) -> None:
    app = make_app(snapshot_ns)
    async with app.run_test(size=(100, 30)) as pilot:
        await settled(pilot)
        now = time.time()
        for event in (
            ev.WorkerStatus(worker="checker", state="checking", job="gpt-narrow-5", ts=now),
            ev.RungStarted(design="gpt-cross-4", rung="cpu-m", ts=now),
            ev.TrainingProgress("gpt-cross-4", "cpu-m", 1, 1000, 8.0, 900.0, elapsed=2.0),
        ):
            app.post_message(LoopEvent(event))
        await until(pilot, lambda: len(app.main.query(JobRow)) == 2)
        await until(
            pilot, lambda: all(r.job.step or r.job.kind != "train" for r in app.main.query(JobRow))
        )
        await pilot.pause(0.3)
        for row in app.main.query(JobRow):
            label = row.query_one("#what", Label)
            assert str(label.render()).startswith(f"{row.job.kind} {row.job.design}")
            assert label.size.width >= len(f"{row.job.kind} {row.job.design}")
            assert not row.query_one("#bar").display  # the bar gave way to the name


async def test_dialogue_wraps_again_when_the_terminal_grows(snapshot_ns: Path) -> None:
    app = make_app(snapshot_ns)
    async with app.run_test(size=(100, 30)) as pilot:
        await settled(pilot)
        log = app.main.query_one(DialogueLog)
        narrow = len(log.lines)
        await pilot.resize_terminal(200, 50)
        await pilot.pause(0.3)
        assert len(log.lines) < narrow  # the same messages on fewer, longer lines
