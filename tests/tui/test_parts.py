"""The dashboard's plain-data parts: themes, leaderboard rows, family tree, worker activity,
loss curves, the plot, budget figures, settings and samplers. No app is started here."""

from __future__ import annotations

from pathlib import Path

import pytest

from genesys_tui.errors import ConfigError
from genesys_tui.evolve import events as ev
from genesys_tui.evolve.settings import EvolveConfig
from genesys_tui.results import RungResult
from genesys_tui.store.records import DesignRecord
from genesys_tui.tui.activity import Activity, duration
from genesys_tui.tui.board import (
    ladder_counts,
    matches,
    reason_of,
    row_of,
    rung_order,
    shown_status,
)
from genesys_tui.tui.curves import CurveLog, curve_of
from genesys_tui.tui.family import family, lineage
from genesys_tui.tui.sampler import FixedSampler, ResourceSample, SystemSampler
from genesys_tui.tui.settings import DashboardConfig, load_settings
from genesys_tui.tui.themes import load_theme, load_themes, resolve_theme
from genesys_tui.tui.widgets.budget import budget_text
from genesys_tui.tui.widgets.plot import braille_plot
from genesys_tui.tui.widgets.resources import spark


def record(
    seq: int, parents: tuple[str, ...] = (), status: str = "verified", **kw: object
) -> DesignRecord:
    fields: dict[str, object] = dict(
        id=f"d-{seq}", seq=seq, commit="0" * 40, parents=parents, name="d", designer="offline",
        origin="seed" if not parents else ("mutation", "crossover")[len(parents) > 1],
        status=status, title=f"design {seq}", created=0, updated=0.0,
    )  # fmt: skip
    fields.update(kw)
    return DesignRecord(**fields)  # type: ignore[arg-type]


# ---- themes -----------------------------------------------------------------------------------


def test_shipped_themes_load_a_dark_a_light_and_a_third() -> None:
    themes = load_themes()
    assert {"dark", "light", "solarized"} <= set(themes)
    assert themes["dark"].dark and not themes["light"].dark
    assert resolve_theme("light", themes) == "genesys-light"
    assert resolve_theme("genesys-solarized", themes) == "genesys-solarized"
    assert resolve_theme("nord", themes) == "nord"  # Textual's own themes work too


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('name = "x"\n[colors]\nprimary = "not-a-colour"\n', "colors.primary"),
        ('name = "x"\n[colors]\nsecondary = "#fff"\n', "colors.primary is required"),
        ('name = "x"\n[colors]\nprimary = "#fff"\nprimry = "#000"\n', "colors.primry"),
        ('[colors]\nprimary = "#fff"\n', "name"),
        ('name = "x"\ndark = "yes"\n[colors]\nprimary = "#fff"\n', "dark"),
    ],
    ids=["bad-colour", "no-primary", "typo-in-colour", "no-name", "dark-not-bool"],
)
def test_bad_theme_file_names_the_file_and_field(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"bad.toml") as err:
        load_theme(path)
    assert field in str(err.value)


def test_unknown_theme_name_lists_the_theme_files() -> None:
    with pytest.raises(ConfigError, match=r"dashboard.theme.*'dark'"):
        resolve_theme("no-such-theme", load_themes())


# ---- leaderboard rows ----------------------------------------------------------------------


def test_row_reads_bpb_and_evaluation_at_the_highest_rung_passed() -> None:
    rungs = {
        "cpu-xs": {"bpb": 2.0, "eval/a": 0.6, "eval/b": 0.8},
        "cpu-s": {"bpb": 1.8, "eval/a": 0.7, "eval/b": 0.9},
        "cpu-m": {},  # a failed verification holds no scores
    }
    row = row_of(record(1, rungs=rungs, fitness=0.1), ["cpu-xs", "cpu-s", "cpu-m"])
    assert (row.rungs, row.bpb, row.evaluation) == (2, 1.8, pytest.approx(0.8))


def test_rung_order_follows_the_ladder_then_how_many_designs_reached_a_rung() -> None:
    recs = [
        record(1, rungs={"big": {"bpb": 1.0}, "tiny": {"bpb": 2.0}}),
        record(2, rungs={"tiny": {"bpb": 2.0}}),
    ]
    assert rung_order(recs) == ["tiny", "big"]
    assert rung_order(recs, ["cpu-xs"]) == ["cpu-xs", "tiny", "big"]


@pytest.mark.parametrize(
    ("query", "hit"),
    [("d-1", True), ("design 1", True), ("rungs>=1", True), ("fitness>0.5", False),
     ("verified bpb<3", True), ("nothing-like-it", False), ("fitness>x", False)],
    ids=["id", "title-words", "rungs-bound", "fitness-bound", "word-and-bound", "miss",
         "bad-number"],
)  # fmt: skip
def test_filter_matches_words_and_numeric_bounds(query: str, hit: bool) -> None:
    row = row_of(record(1, rungs={"r": {"bpb": 2.0}}, fitness=0.25), ["r"])
    assert matches(row, query) is hit


# ---- family tree -------------------------------------------------------------------------------


def test_crossover_sits_under_its_first_parent_and_links_from_the_other() -> None:
    recs = [record(1), record(2), record(3, ("d-1",)), record(4, ("d-3", "d-2"))]
    fam = family(recs)
    assert fam.roots == ["d-1", "d-2"]
    assert [(p.design, p.link) for p in fam.children["d-3"]] == [("d-4", False)]
    assert [(p.design, p.link) for p in fam.children["d-2"]] == [("d-4", True)]
    assert fam.depth["d-4"] == 2
    assert lineage({r.id: r for r in recs}, "d-4") == ["d-1", "d-3", "d-4"]


def test_design_whose_parents_are_unknown_is_a_root() -> None:
    assert family([record(7, ("gone-1",))]).roots == ["d-7"]


# ---- worker activity ---------------------------------------------------------------------------


def test_activity_follows_a_design_from_check_to_training_and_back_to_idle() -> None:
    act = Activity()
    act.apply(ev.WorkerStatus(worker="checker", state="checking", job="d-3", ts=10.0))
    assert act.jobs["check:d-3"].started == 10.0
    act.apply(ev.CheckFinished(design="d-3", ok=True, summary="passed", seconds=1.0))
    act.apply(ev.RungStarted(design="d-3", rung="cpu-xs", ts=20.0))
    act.apply(ev.TrainingProgress("d-3", "cpu-xs", 25, 100, 3.2, 900.0, elapsed=5.0))
    job = act.jobs["train:d-3@cpu-xs"]
    assert (job.fraction, job.eta, act.verifying) == (0.25, 15.0, {"cpu-xs": 1})
    act.apply(ev.RungFinished(design="d-3", rung="cpu-xs", ok=True))
    assert act.jobs == {} and act.verifying == {"cpu-xs": 0}


def test_designer_session_ends_when_its_design_is_proposed() -> None:
    act = Activity()
    act.apply(ev.Dialogue(role="proposer", text="Let us", session="design-4"))
    assert list(act.jobs) == ["design:design-4"]
    act.apply(ev.DesignProposed(title="t", parents=(), designer="x", operation="m", reason="r"))
    assert act.jobs == {}


@pytest.mark.parametrize(
    ("seconds", "text"), [(None, "-"), (42.4, "42s"), (185, "3m05s"), (7440, "2h04m")],
    ids=["unknown", "seconds", "minutes", "hours"],
)  # fmt: skip
def test_duration_reads_at_a_glance(seconds: float | None, text: str) -> None:
    assert duration(seconds) == text


# ---- loss curves and the plot ----------------------------------------------------------------


def test_curve_log_keeps_each_step_once_and_skips_a_torn_line(tmp_path: Path) -> None:
    log = CurveLog(tmp_path)
    for step in (1, 2, 2, 3):
        log.record(ev.TrainingProgress("d-1", "cpu-xs", step, 3, 5.0 - step, 1.0))
    with (tmp_path / "d-1@cpu-xs.tsv").open("a") as fh:
        fh.write("4\t1.")  # the writer was killed mid-line: "1." still parses, "4\t" alone not
        fh.write("\n5\t")
    assert log.read("d-1", "cpu-xs") == [(1, 4.0), (2, 3.0), (3, 2.0), (4, 1.0)]
    assert log.read("d-1", "other") == []


def test_curve_in_the_rung_result_wins_over_the_log(tmp_path: Path) -> None:
    log = CurveLog(tmp_path)
    log.record(ev.TrainingProgress("d-1", "r", 1, 1, 9.0, 1.0))
    kept = RungResult.from_note(
        {"scores": {"score": 0.5}, "detail": {"curve": [[2, 1.5], [1, 2.5]]}}
    )
    assert curve_of(kept, log, "d-1", "r") == [(1, 2.5), (2, 1.5)]
    assert curve_of(RungResult.from_note({"detail": {}}), log, "d-1", "r") == [(1, 9.0)]


def test_braille_plot_draws_one_dot_per_column_of_a_falling_line() -> None:
    lines = braille_plot([(0, 1.0), (3, 0.0)], width=2, height=1)
    # Four dot columns, falling one dot row each: top-left, then down to the bottom-right.
    assert lines == [chr(0x2800 + 0x01 + 0x10) + chr(0x2800 + 0x04 + 0x80)]
    assert braille_plot([], 3, 2) == ["   ", "   "]


def test_sparkline_uses_a_fixed_percent_scale() -> None:
    assert spark([0, 50, 100], 5) == "  " + " ▄█"
    assert spark([1, 2, 1], 3) == "   "  # a few percent is not a full bar


# ---- budget, settings, samplers ----------------------------------------------------------


def test_budget_counts_made_designs_cost_and_the_valid_rate() -> None:
    recs = [
        record(1),  # a seed: not counted
        record(2, ("d-1",), status="checked", cost_usd=0.25),
        record(3, ("d-1",), status="rejected", cost_usd=0.5),
        record(4, ("d-1",), status="proposed"),  # not judged yet
    ]
    text = budget_text(recs, EvolveConfig(max_designs=10, max_usd=2.0)).plain
    assert "3 of 10" in text and "$0.75 of $2.00" in text and "50% (1 of 2 checked)" in text
    assert "no run attached" in budget_text(recs, None).plain


def test_settings_file_sets_dashboard_and_evolve_and_names_bad_fields(tmp_path: Path) -> None:
    path = tmp_path / "genesys.toml"
    path.write_text('[dashboard]\ntheme = "light"\n[evolve]\ndesigner = "anthropic:m"\n')
    dash, evolve = load_settings(path)
    assert (dash.theme, evolve.designer) == ("light", "anthropic:m")
    path.write_text("[dashboard]\nsample_seconds = -1\n")
    with pytest.raises(ConfigError, match=r"dashboard.sample_seconds"):
        load_settings(path)
    with pytest.raises(ConfigError, match=r"dashboard.history"):
        DashboardConfig(history=0)


def test_fixed_sampler_replays_then_holds_the_last_sample() -> None:
    a, b = ResourceSample(10.0, 1, 4), ResourceSample(20.0, 2, 4)
    sampler = FixedSampler([a, b])
    assert [sampler.sample() for _ in range(3)] == [a, b, b]


def test_system_sampler_reads_this_machine_and_says_why_there_is_no_gpu() -> None:
    sampler = SystemSampler()
    try:
        sample = sampler.sample()
    finally:
        sampler.close()
    assert 0 <= sample.cpu_percent <= 100 and sample.memory_total > 0
    assert sample.gpus or sample.no_gpu.startswith("no GPU")


def test_a_rung_result_shows_the_verifiers_notes(tmp_path: Path) -> None:
    from genesys_tui.store.repo import DesignsRepo
    from genesys_tui.tui.catalog import Catalog
    from genesys_tui.tui.details import load_details

    with DesignsRepo.create(tmp_path / "ns") as repo:
        note = "tasks skipped: rung cpu-xs trains 131,072 tokens, fewer than 1,000,000"
        repo.attach("gpt-1", "rung:cpu-xs", {
            "scores": {"score": 0.5, "bpb": 3.9}, "seconds": 6.0,
            "detail": {"ok": True, "evals": {}, "curve": [[1, 5.5], [2, 5.0]], "notes": [note]},
        })  # fmt: skip
    catalog = Catalog(tmp_path / "ns")
    try:
        (rung,) = load_details(catalog, "gpt-1", ["cpu-xs"], None).rungs
    finally:
        catalog.close()
    assert rung.notes == (note,) and rung.curve == [(1, 5.5), (2, 5.0)] and rung.ok


# ---- ladder counts and reasons -------------------------------------------------------------


def test_ladder_counts_agree_with_the_leaderboards_rungs_column() -> None:
    recs = [
        record(1, rungs={"cpu-xs": {"bpb": 2.0}}),  # a seed
        record(2, rungs={"cpu-xs": {"bpb": 2.1}}),  # a seed
        record(3, ("d-1",), rungs={"cpu-xs": {"bpb": 1.9}, "cpu-s": {"bpb": 1.7}}),
        record(4, ("d-1",), rungs={"cpu-xs": {}}, status="verified"),  # its run failed
        record(5, ("d-1",), status="checked"),
    ]
    rungs = ["cpu-xs", "cpu-s"]
    counts = ladder_counts(recs, rungs)
    rows = [row_of(r, rungs) for r in recs]
    for i, rung in enumerate(rungs):
        assert counts[rung].passed == sum(1 for row in rows if row.rungs > i)
    xs = counts["cpu-xs"]
    assert (xs.passed, xs.seeds, xs.designs, xs.failed, xs.used) == (3, 2, 1, 1, 2)
    assert (counts["cpu-s"].passed, counts["cpu-s"].used) == (1, 1)


def test_rejected_seed_shows_its_status_and_reason() -> None:
    seed = record(1, status="rejected", reason="check: causality")
    row = row_of(seed, ["cpu-xs"])
    assert (row.status, row.reason) == ("rejected", "check: causality")
    assert shown_status(record(2)) == "seed"
    assert matches(row, "causality")


def test_failed_rung_or_missing_reason_is_still_said() -> None:
    failed_run = record(2, ("d-1",), rungs={"cpu-xs": {}})
    assert reason_of(failed_run, ["cpu-xs"]) == "failed at cpu-xs (see the inspector)"
    assert reason_of(record(3, ("d-1",), status="rejected")) == "rejected; no reason recorded"
    assert reason_of(record(4, ("d-1",), rungs={"cpu-xs": {"bpb": 2.0}})) == ""


def test_eta_from_the_first_step_or_from_typical_durations() -> None:
    act = Activity()
    act.apply(ev.CheckFinished(design="d-1", ok=True, summary="passed", seconds=10.0))
    act.apply(ev.CheckFinished(design="d-2", ok=True, summary="passed", seconds=30.0))
    act.apply(ev.WorkerStatus(worker="checker", state="checking", job="d-3", ts=100.0))
    assert act.eta(act.jobs["check:d-3"], now=105.0) == 15.0  # median 20 s, 5 s gone
    act.apply(ev.RungStarted(design="d-3", rung="cpu-xs", ts=200.0))
    train = act.jobs["train:d-3@cpu-xs"]
    assert act.eta(train, now=201.0) is None  # no step yet, no training seen at this rung
    act.apply(ev.TrainingProgress("d-3", "cpu-xs", 1, 100, 5.0, 900.0, elapsed=0.0))
    assert act.eta(train, now=202.0) == 198.0  # step 1 of 100 in 2 s of wall clock
    act.apply(ev.RungFinished(design="d-3", rung="cpu-xs", ok=True, seconds=60.0))
    act.apply(ev.RungStarted(design="d-4", rung="cpu-xs", ts=300.0))
    assert act.eta(act.jobs["train:d-4@cpu-xs"], now=310.0) == 50.0  # a typical 60 s run


def test_loss_sparkline_scales_to_its_own_range() -> None:
    from genesys_tui.tui.widgets.workers import loss_spark

    assert loss_spark([5.0, 4.0, 3.0], 3) == "█▅▁"
    assert loss_spark([5.0, float("nan"), 3.0, 4.0], 2) == "▁█"  # the last two finite ones
    assert loss_spark([2.0, 2.0], 5) == "▄▄" and loss_spark([], 5) == ""
