"""CheckConfig: bad values name their field; the tiny size adapts to patterns and chunks."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from genesys_tui.checker.settings import (
    CheckConfig,
    budget_model_config,
    tiny_model_config,
)
from genesys_tui.design import load_design
from genesys_tui.errors import ConfigError
from tests.checker.conftest import REPO


@pytest.mark.parametrize(
    ("field", "value"),
    [("d_model", 0), ("timeout_s", -1.0), ("param_ratio_low", 2.0), ("skip", ("nope",)),
     ("speed_warn_ratio", 4.0), ("overfit_min_drop", 1.0), ("context_length", 2),
     ("causality_lengths", (64, 2)), ("causality_lengths", 128)],
    ids=["d_model", "timeout", "ratio-order", "skip", "warn-above-error", "drop", "context",
         "lengths-too-short", "lengths-not-a-list"],
)  # fmt: skip
def test_bad_value_names_its_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field):
        CheckConfig(**{field: value})


def test_toml_check_table_overrides_defaults(tmp_path: Path) -> None:
    path = tmp_path / "genesys.toml"
    path.write_text('[check]\ntimeout_s = 5\nskip = ["speed"]\ncausality_lengths = [128]\n')
    config = CheckConfig.from_toml(path)
    assert (config.timeout_s, config.skip, config.causality_lengths) == (5, ("speed",), (128,))
    assert CheckConfig.from_dict(config.to_dict()) == config


def test_unknown_toml_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "genesys.toml"
    path.write_text("[check]\ntimeout = 5\n")
    with pytest.raises(ConfigError, match=r"check\.timeout"):
        CheckConfig.from_toml(path)


def test_chunked_unit_gets_two_chunks_and_a_ragged_end() -> None:
    tiny = tiny_model_config(load_design(REPO / "library" / "mamba2"), CheckConfig())
    chunk = 64  # library/mamba2's chunk_size
    assert tiny.context_length == 2 * chunk + 3


def test_layer_pattern_gets_one_block_more_than_the_pattern() -> None:
    gpt = load_design(REPO / "library" / "gpt")
    pattern = dataclasses.replace(gpt, roots=("block", "block", "block"))
    assert tiny_model_config(pattern, CheckConfig()).n_layers == 4
    assert tiny_model_config(gpt, CheckConfig()).n_layers == 2


def test_rung_sizes_the_budget_and_unknown_rung_is_a_config_error() -> None:
    assert budget_model_config(CheckConfig(), "cpu-s").d_model == 128
    with pytest.raises(ConfigError, match="no rung"):
        budget_model_config(CheckConfig(), "no-such-rung")
