"""Fitness reads the same in the dashboard, ``genesys log`` and the headless leaderboard."""

from __future__ import annotations

import math

import pytest

from genesys_tui.scores import format_fitness


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.0131, "+0.0131"), (-0.03921, "-0.0392"), (0.005498, "+0.0055"), (0, "+0.0000"),
     (-0.00001, "+0.0000"), (-0.0, "+0.0000"), (1.5, "+1.5000"), (None, "-"), (math.nan, "-")],
    ids=["positive", "negative", "rounds", "zero", "tiny-negative", "negative-zero", "large",
         "none", "nan"],
)  # fmt: skip
def test_fitness_is_signed_with_four_decimals(value: float | None, text: str) -> None:
    assert format_fitness(value) == text


def test_log_and_headless_leaderboard_use_the_same_fitness_text() -> None:
    from genesys_tui.cli.log import format_record
    from genesys_tui.evolve.leaderboard import Row, format_leaderboard
    from genesys_tui.store.records import DesignRecord

    record = DesignRecord(
        id="d-2", seq=2, commit="0" * 40, parents=("d-1",), name="d", designer="x",
        origin="mutation", status="verified", title="t", created=0, updated=0.0,
        fitness=-0.03921,
    )  # fmt: skip
    assert "fit -0.0392 " in format_record(record)
    row = Row("d-2", "d-1", "x", 1, 2.0, None, -0.03921, False)
    assert format_leaderboard([row]).splitlines()[1].endswith(" -0.0392")
