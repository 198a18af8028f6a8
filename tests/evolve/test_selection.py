"""Parent selection: warm-up from seeds, exploit the good and confident, explore the uncertain."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from genesys_tui.errors import ConfigError
from genesys_tui.evolve.selection import (
    Candidate,
    LadderSelector,
    SelectionConfig,
    exploit_scores,
)

SEEDS = [Candidate(s, 0.5, 0.5, True) for s in ("gpt", "mamba2", "retnet")]
GROWN = [
    Candidate("best", 0.9, 1.0, False),
    Candidate("good-unsure", 0.85, 0.0, False),
    Candidate("poor", 0.1, 1.0, False),
    Candidate("new", None, 0.0, False),
]


def test_first_designs_grow_from_library_seeds() -> None:
    sel = LadderSelector(SelectionConfig(warmup=5, p_scratch=0.0))
    rng = random.Random(0)
    for n in range(5):
        choice = sel.select(SEEDS + GROWN, n, rng)
        assert choice.kind == "mutation" and choice.parents[0] in {"gpt", "mamba2", "retnet"}
        assert choice.reason == "warm-up"


def test_exploit_prefers_good_and_confident_designs() -> None:
    cfg = SelectionConfig(warmup=0, p_explore=0.0, p_restart=0.0, p_crossover=0.0, p_scratch=0.0)
    sel, rng = LadderSelector(cfg), random.Random(1)
    picks = Counter(sel.select(SEEDS + GROWN, 100, rng).parents[0] for _ in range(2000))
    assert picks["best"] > picks["good-unsure"] > picks["poor"]
    assert picks["best"] / 2000 > 0.3


def test_explore_picks_designs_with_least_evidence() -> None:
    cfg = SelectionConfig(warmup=0, p_explore=1.0, p_restart=0.0, p_crossover=0.0, p_scratch=0.0)
    sel, rng = LadderSelector(cfg), random.Random(2)
    picks = {sel.select(SEEDS + GROWN, 100, rng).parents[0] for _ in range(200)}
    assert picks == {"good-unsure", "new"}


def test_restart_and_crossover_rates_follow_config() -> None:
    cfg = SelectionConfig(warmup=0, p_explore=0.2, p_restart=0.1, p_crossover=0.3, p_scratch=0.05)
    sel, rng = LadderSelector(cfg), random.Random(3)
    choices = [sel.select(SEEDS + GROWN, 100, rng) for _ in range(4000)]
    reasons = Counter(c.reason for c in choices)
    kinds = Counter(c.kind for c in choices)
    assert reasons["scratch"] / 4000 == pytest.approx(0.05, abs=0.015)
    assert reasons["restart"] / 4000 == pytest.approx(0.10, abs=0.02)
    # Crossover applies to the 85% of picks that were neither scratch nor restart.
    assert kinds["crossover"] / 4000 == pytest.approx(0.85 * 0.3, abs=0.03)
    assert all(len(set(c.parents)) == len(c.parents) for c in choices)


def test_same_seed_same_choices() -> None:
    sel = LadderSelector()
    a = [sel.select(SEEDS + GROWN, n, random.Random(n)) for n in range(30)]
    b = [sel.select(SEEDS + GROWN, n, random.Random(n)) for n in range(30)]
    assert a == b


def test_unverified_designs_score_below_verified_ones() -> None:
    scores = exploit_scores(GROWN)
    assert scores["new"] == 0.0 < scores["poor"]
    assert scores["best"] == 1.0


def test_bad_probability_names_the_field() -> None:
    with pytest.raises(ConfigError, match="p_explore"):
        SelectionConfig(p_explore=1.5)
