"""What makes a design's fitness, on the dashboard: a short "why" in its leaderboard row, the
terms in the inspector, and a cost charged at a guessed price flagged in the budget panel."""

from __future__ import annotations

from pathlib import Path

from genesys_tui.evolve import events as ev
from genesys_tui.tui.activity import Activity
from genesys_tui.tui.board import row_of
from genesys_tui.tui.catalog import Catalog
from genesys_tui.tui.details import load_details
from genesys_tui.tui.widgets.budget import budget_text


def test_a_grown_designs_row_says_which_terms_make_its_fitness(pilot_ns: Path) -> None:
    catalog = Catalog(pilot_ns)
    records = catalog.records()
    catalog.close()
    seeds = [r for r in records if r.origin == "seed"]
    grown = [r for r in records if r.origin != "seed"]
    rows = {r.id: row_of(r, ["cpu-xs"], seeds) for r in records}
    for record in grown:
        assert rows[record.id].why.startswith(("bpb ", "eval/genblimp ", "genblimp "))
    assert all(rows[s.id].why == "" for s in seeds)  # a seed is the baseline itself
    assert row_of(grown[0], ["cpu-xs"]).why == ""  # no seeds to measure against: nothing said


def test_the_inspector_lists_the_fitness_terms(pilot_ns: Path) -> None:
    catalog = Catalog(pilot_ns)
    try:
        grown = next(r for r in catalog.records() if r.origin == "mutation")
        details = load_details(catalog, grown.id, ["cpu-xs"], None)
    finally:
        catalog.close()
    assert details.terms.splitlines()[0].split()[:3] == ["rung", "term", "raw"]
    assert "bpb" in details.terms


def test_a_cost_at_a_defaulted_price_is_flagged_in_the_budget_panel() -> None:
    activity = Activity()
    activity.apply(ev.CostUpdate(total_usd=1.5, design_usd=1.5, defaulted_prices=("x:y",)))
    activity.apply(ev.CostUpdate(total_usd=2.0, design_usd=0.5))
    assert activity.defaulted_prices == ["x:y"]
    text = budget_text([], None, activity.cost_usd, activity.defaulted_prices).plain
    assert "$2.00" in text and "price defaulted for x:y" in text
    assert "defaulted" not in budget_text([], None, 2.0).plain


def test_the_inspector_reads_the_margin_over_each_seed_in_sigma(pilot_ns: Path) -> None:
    catalog = Catalog(pilot_ns)
    try:
        grown = next(r for r in catalog.records() if r.origin == "mutation")
        seeds = [r for r in catalog.records() if r.origin == "seed" and "cpu-xs" in r.rungs]
        details = load_details(catalog, grown.id, ["cpu-xs"], None, {"cpu-xs": 0.01})
        unmeasured = load_details(catalog, grown.id, ["cpu-xs"], None)
    finally:
        catalog.close()
    assert seeds
    line = details.margins.splitlines()[0]
    assert line.startswith("cpu-xs (sigma 0.0100): ")
    for seed in seeds:
        margin = (grown.rungs["cpu-xs"]["score"] - seed.rungs["cpu-xs"]["score"]) / 0.01
        verdict = "beats" if margin > 2 else "loses" if margin < -2 else "tie"
        assert f"{seed.id} {margin:+.1f}σ {verdict}" in line
    assert unmeasured.margins.startswith("cpu-xs (sigma not measured): ")
