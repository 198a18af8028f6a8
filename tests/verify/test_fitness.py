"""Fitness: rung scores rescale skill over chance, Massey ratings recover known strengths and
rank designs measured on different metrics, confidence grows with the rungs passed."""

from __future__ import annotations

import math
import random

import pytest

from genesys_tui.config import from_mapping
from genesys_tui.errors import ConfigError
from genesys_tui.verify.fitness import (
    FitnessSettings,
    confidence,
    massey_ratings,
    metrics_of,
    rank,
    rung_score,
    skill,
)


@pytest.mark.parametrize(
    ("acc", "chance", "expected"),
    [(0.5, 0.5, 0.0), (1.0, 0.5, 1.0), (0.75, 0.5, 0.5), (0.25, 0.5, -0.5), (0.5, 0.25, 1 / 3)],
    ids=["chance", "perfect", "halfway", "below-chance", "four-way"],
)
def test_skill_is_zero_at_chance_and_one_when_perfect(acc, chance, expected):
    assert skill(acc, chance) == pytest.approx(expected)


def test_rung_score_is_the_weighted_mean_of_skill_terms():
    s = FitnessSettings(bpb_weight=2.0, task_weights={"b": 0.0}, chance={"c": 0.25})
    # bpb 2 -> 1 - 2/8 = 0.75 (weight 2); a: 0.75 -> 0.5; b ignored; c: 0.625 -> 0.5
    got = rung_score(2.0, {"a": 0.75, "b": 1.0, "c": 0.625}, s)
    assert got == pytest.approx((2 * 0.75 + 0.5 + 0.5) / 4)


def test_rung_score_without_bpb_uses_tasks_and_a_diverged_bpb_scores_zero():
    assert rung_score(None, {"a": 1.0}) == pytest.approx(1.0)
    assert rung_score(float("nan"), {"a": 1.0}) == pytest.approx(0.5)
    with pytest.raises(ValueError, match=r"needs"):
        rung_score(None, {})


def test_better_bpb_and_accuracy_give_a_higher_score():
    assert rung_score(1.5, {"a": 0.8}) > rung_score(1.6, {"a": 0.8}) > rung_score(1.6, {"a": 0.7})


@pytest.mark.parametrize(
    ("field", "value"),
    [("bpb_weight", -1), ("default_chance", 1.0), ("bpb_reference", 0), ("rung_growth", 0.5)],
)
def test_bad_settings_name_their_field(field, value):
    with pytest.raises(ConfigError, match=field):
        from_mapping(FitnessSettings, {field: value})


def test_settings_load_from_a_mapping():
    s = from_mapping(FitnessSettings, {"task_weights": {"genblimp_a_an": 0.5}, "bpb_weight": 3})
    assert s.weight("genblimp_a_an") == 0.5 and s.weight("other") == 1.0 and s.bpb_weight == 3


def test_massey_recovers_known_strengths():
    rng = random.Random(0)
    strength = {"a": 0.3, "b": 0.1, "c": 0.0, "d": -0.4}
    results = {
        d: {"r0": {f"m{k}": s + rng.gauss(0, 0.01) for k in range(20)}} for d, s in strength.items()
    }
    ratings = massey_ratings(results)
    assert rank(ratings) == ["a", "b", "c", "d"]
    assert sum(ratings.values()) == pytest.approx(0.0, abs=1e-9)
    for d, s in strength.items():
        assert ratings[d] == pytest.approx(s - sum(strength.values()) / 4, abs=0.01)


def test_massey_ranks_designs_measured_on_different_metrics():
    # a and c never share a metric: they are related through b
    results = {
        "a": {"r0": {"x": 0.9}},
        "b": {"r0": {"x": 0.7, "y": 0.6}},
        "c": {"r0": {"y": 0.4}},
        "lonely": {"r9": {"z": 1.0}},  # played no game
    }
    ratings = massey_ratings(results)
    assert ratings["a"] > ratings["b"] > ratings["c"] and ratings["lonely"] == pytest.approx(0)
    assert ratings["a"] - ratings["c"] == pytest.approx(0.2 + 0.2, abs=1e-6)


def test_metrics_of_negates_bpb_so_higher_is_better():
    assert metrics_of(1.2, {"t": 0.6}) == {"t": 0.6, "bpb": -1.2}
    assert "bpb" not in metrics_of(float("inf"), {})


def test_rank_breaks_ties_by_name():
    assert rank({"b": 1.0, "a": 1.0, "c": 2.0}) == ["c", "a", "b"]


@pytest.mark.parametrize(
    ("passed", "expected"),
    [([], 0.0), ([0], 1 / 7), ([0, 1], 3 / 7), ([2], 4 / 7), ([0, 1, 2], 1.0), ([0, 0], 1 / 7)],
    ids=["none", "first", "two", "top-only", "all", "repeat"],
)
def test_confidence_grows_with_the_rungs_passed(passed, expected):
    assert confidence(passed, 3) == pytest.approx(expected)


def test_confidence_refuses_rungs_outside_the_ladder():
    with pytest.raises(ValueError, match="outside"):
        confidence([3], 3)
    assert math.isclose(confidence([0], 1), 1.0)
