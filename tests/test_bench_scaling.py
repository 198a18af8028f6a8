"""``genesys bench --scaling``: time against sequence length, settings, table and command line."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import torch

from genesys_tui.bench.scaling import ScalingResult, ScalingSettings, format_table, measure
from genesys_tui.cli import main
from genesys_tui.design import load_design
from genesys_tui.errors import ConfigError

TINY = {"d_model": 32, "n_layers": 1, "vocab_size": 32, "repeats": 1, "warmup": 0}


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    # Tiny models gain nothing from threads and stall on a shared machine's busy cores.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize(
    ("lengths", "pair"),
    [
        ((512, 1024, 2048, 4096), (1024, 4096)),
        ((16, 64), (16, 64)),
        ((100, 300), (100, 300)),
        ((8,), (8, 8)),
    ],
    ids=["default-4x", "two-4x", "no-quarter-uses-first", "single"],
)
def test_ratio_compares_the_longest_length_with_a_quarter_of_it(
    lengths: tuple[int, ...], pair: tuple[int, int]
) -> None:
    assert ScalingSettings(lengths=lengths).ratio_pair() == pair


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("lengths", ()),
        ("lengths", (64, 32)),
        ("lengths", (0, 8)),
        ("d_model", 0),
        ("repeats", 0),
        ("warmup", -1),
        ("batch", True),
    ],
    ids=[
        "no-lengths",
        "descending",
        "zero-length",
        "zero-width",
        "no-repeats",
        "negative-warmup",
        "bool-batch",
    ],
)
def test_bad_settings_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=f"ScalingSettings.{field}"):
        ScalingSettings(**{field: value})  # type: ignore[arg-type]


def test_measure_times_every_design_at_every_length_in_order() -> None:
    settings = ScalingSettings(lengths=(8, 32), **TINY)
    results = measure([load_design("retnet"), load_design("gpt")], settings)
    assert [r.name for r in results] == ["retnet", "gpt"]
    for r in results:
        assert set(r.seconds) == {8, 32}
        assert all(s > 0 for s in r.seconds.values())
        assert all(len(v) == 1 for v in r.rounds.values())
    table = format_table(results, settings)
    assert "t(32)/t(8)" in table
    assert table.splitlines()[2].startswith("retnet")


def test_ratio_is_the_long_time_over_the_short_time() -> None:
    result = ScalingResult("x", {1024: 0.5, 4096: 2.5})
    assert result.ratio(1024, 4096) == pytest.approx(5.0)


def test_cli_scaling_prints_one_json_line_per_design(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "bench",
        "--scaling",
        "gpt",
        "mamba2",
        "--lengths",
        "8,32",
        "--repeats",
        "1",
        "--d-model",
        "32",
        "--n-layers",
        "1",
        "--json",
    ]
    assert main(argv) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["design"] for r in rows] == ["gpt", "mamba2"]
    assert set(rows[0]["seconds"]) == {"8", "32"}
    assert "ratio_32_8" in rows[0]


@pytest.mark.parametrize(
    "argv",
    [
        ["bench", "gpt", "mamba2"],
        ["bench", "--scaling"],
        ["bench", "--scaling", "gpt", "--all"],
        ["bench", "--scaling", "gpt", "--lengths", "8,x"],
    ],
    ids=["several-without-scaling", "scaling-without-designs", "names-and-all", "bad-lengths"],
)
def test_cli_rejects_bad_design_lists_with_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert "error" in capsys.readouterr().err
