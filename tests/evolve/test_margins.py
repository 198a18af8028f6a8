"""Margins in units of the rung's noise (issue 14, section 3): a design beats a seed only above
2 sigma, ties inside it are called ties, and the leaderboard says so."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from genesys_tui.errors import ConfigError
from genesys_tui.evolve.leaderboard import format_leaderboard, leaderboard
from genesys_tui.evolve.population import Member, Population, SeedMargin, format_lead
from genesys_tui.ladder import Rung, load_ladder, rung_sigmas


@pytest.mark.parametrize(
    ("margin", "sigma", "verdict"),
    [(0.0201, 0.01, "beats"), (0.0199, 0.01, "tie"), (-0.0199, 0.01, "tie"),
     (-0.0201, 0.01, "loses"), (0.5, 0.0, "unknown")],
)  # fmt: skip
def test_a_seed_is_beaten_only_above_two_sigma(margin: float, sigma: float, verdict: str) -> None:
    m = SeedMargin("gpt-1", "cpu-s", margin, sigma)
    assert m.verdict == verdict
    assert m.in_sigma == (None if sigma == 0 else pytest.approx(margin / sigma))


def _pop(sigma: float = 0.01) -> Population:
    pop = Population(["cpu-xs", "cpu-s"], {"cpu-xs": 0.004, "cpu-s": sigma})
    for i, (mid, xs, s) in enumerate([("gpt-1", 0.50, 0.36), ("mamba2-2", 0.57, 0.35),
                                       ("rwkv7-4", 0.47, None)]):  # fmt: skip
        m = Member(mid, i, (), True, "verified")
        m.rung_scores["cpu-xs"] = xs
        if s is not None:
            m.rung_scores["cpu-s"] = s
        pop.add(m)
    return pop


def _design(pop: Population, mid: str, xs: float, s: float | None = None) -> Member:
    m = Member(mid, 10 + len(pop.members), ("gpt-1",), False, "verified")
    m.rung_scores["cpu-xs"] = xs
    if s is not None:
        m.rung_scores["cpu-s"] = s
    pop.add(m)
    return m


def test_margins_are_read_at_the_highest_rung_against_the_seeds_verified_there() -> None:
    pop = _pop()
    child = _design(pop, "gpt-a-10", 0.60, 0.385)
    margins = pop.seed_margins(child)
    assert [(m.seed, m.rung) for m in margins] == [("gpt-1", "cpu-s"), ("mamba2-2", "cpu-s")]
    assert [m.margin for m in margins] == pytest.approx([0.025, 0.035])  # best seed first
    assert [m.verdict for m in margins] == ["beats", "beats"]
    at_xs = pop.seed_margins(child, "cpu-xs")
    assert len(at_xs) == 3 and at_xs[0].seed == "mamba2-2"
    assert at_xs[0].in_sigma == pytest.approx(0.03 / 0.004)
    assert pop.seed_margins(pop.members["gpt-1"]) == []  # a seed has no margin over the seeds


def test_the_lead_line_calls_ties_ties() -> None:
    pop = _pop()
    assert format_lead(pop.seed_margins(_design(pop, "a-1", 0.6, 0.385))) == \
        "beats all 2 seeds, +2.5σ"  # fmt: skip
    assert format_lead(pop.seed_margins(_design(pop, "b-2", 0.6, 0.37))) == \
        "tie with gpt-1 (+1.0σ), beats 1/2"  # fmt: skip
    assert format_lead(pop.seed_margins(_design(pop, "c-3", 0.6, 0.32))) == \
        "-4.0σ vs gpt-1, beats 0/2"  # fmt: skip
    unmeasured = _pop(sigma=0.0)
    assert format_lead(unmeasured.seed_margins(_design(unmeasured, "d-4", 0.6, 0.37))) == \
        "+0.0100 vs gpt-1 (no sigma)"  # fmt: skip


def test_the_leaderboard_shows_the_margin_in_sigma_and_what_sigma_is() -> None:
    pop = _pop()
    _design(pop, "gpt-a-10", 0.60, 0.385)
    _design(pop, "gpt-b-11", 0.58, 0.365)
    rows = {r.design: r for r in leaderboard(pop)}
    assert rows["gpt-a-10"].lead == "beats all 2 seeds, +2.5σ"
    assert rows["gpt-b-11"].lead == "tie with gpt-1 (+0.5σ), beats 0/2"
    assert rows["gpt-1"].lead == ""
    text = format_leaderboard(leaderboard(pop), sigmas=pop.sigmas)
    assert "against the seeds" in text.splitlines()[0]
    assert "cpu-xs 0.0040, cpu-s 0.0100" in text and "above 2 sigma" in text


def test_the_cpu_ladder_carries_its_measured_noise_and_checkpoints_ignore_it() -> None:
    sigmas = rung_sigmas("cpu")
    assert sigmas["cpu-xs"] == pytest.approx(0.0032) and sigmas["cpu-s"] == pytest.approx(0.0159)
    assert sigmas["cpu-s8"] == pytest.approx(0.0046)
    rung = load_ladder("cpu").rung("cpu-s")
    assert dataclasses.replace(rung, score_sigma=0.5) == rung  # not a training setting
    with pytest.raises(ConfigError, match="score_sigma"):
        Rung("r", 64, 2, score_sigma=-0.1)


def test_a_ladder_started_at_a_rung_keeps_its_sigmas_and_stays_built_in(tmp_path: Path) -> None:
    sigmas = rung_sigmas("cpu@cpu-s8")
    assert sigmas == {k: v for k, v in rung_sigmas("cpu").items() if k != "cpu-xs"}
    assert sigmas["cpu-s8"] == 0.0046
    # the checker looks a built-in ladder's rungs up by name; a ladder file's it cannot
    assert load_ladder("cpu").builtin and load_ladder("cpu@cpu-s8").builtin
    mine = tmp_path / "mine.toml"
    mine.write_text('[mine]\nrungs = [{name = "r", d_model = 64, n_layers = 2}]\n')
    assert not load_ladder(mine).builtin
