"""The ladder: rungs as data, the paper's sizes, and sizing any design to a rung."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from genesys_tui.design import Design, design_from_dict, load_design
from genesys_tui.errors import ConfigError, VerifyError
from genesys_tui.ladder import (
    Rung,
    builtin_ladders,
    find_rung,
    load_ladder,
    non_embedding_params,
    reference_params,
    size_design,
)
from genesys_tui.resources import library_designs
from tests.conftest import LIBRARY

PYTHIA_VOCAB = 50_304  # Pythia's padded GPT-NeoX vocabulary; GPT-3's is 50,257


def gpt_with(**args: dict[str, object]) -> Design:
    """library/gpt with some units' arguments replaced: ``gpt_with(mlp={"expand": 8})``."""
    base = load_design(LIBRARY / "gpt")
    data = base.to_dict()
    for uid, new in args.items():
        data["units"][uid]["args"] = {**data["units"][uid]["args"], **new}
    return design_from_dict(data, base.sources)


def test_builtin_ladders_hold_the_cpu_and_paper_rungs_cheapest_first() -> None:
    ladders = builtin_ladders()
    assert [r.name for r in ladders["cpu"]] == ["cpu-xs", "cpu-s8", "cpu-s", "cpu-m"]
    assert [r.name for r in ladders["paper"]] == ["14M", "31M", "70M", "125M", "350M"]
    for ladder in ladders.values():
        cost = [reference_params(r) * r.tokens for r in ladder]
        assert cost == sorted(cost), ladder.name


# Non-embedding parameters of the models the paper's rungs are named after: Pythia-14M, -31M
# and -70M (as the Pythia paper lists them), and GPT-3 Small and Medium, whose shapes are GPT-2
# small and medium (their totals, 124,439,808 and 354,823,168, less the token and position
# tables).
PUBLISHED = [
    ("14M", 1_189_888),
    ("31M", 4_739_072),
    ("70M", 18_915_328),
    ("125M", 85_056_000),
    ("350M", 302_311_424),
]


@pytest.mark.parametrize(("rung", "published"), PUBLISHED, ids=[r for r, _ in PUBLISHED])
def test_paper_rung_matches_the_non_embedding_size_of_its_namesake(
    rung: str, published: int
) -> None:
    assert reference_params(find_rung(rung, "paper")) == pytest.approx(published, rel=0.02)


# The names count a 50k vocabulary: input and output embeddings both for the Pythia models
# (untied), once for GPT-3 (tied). Our models tie the embedding to a 16k vocabulary, so their
# totals are smaller; the non-embedding count is what designs are matched on.
NAMED = [
    ("14M", 14e6, 2),
    ("31M", 31e6, 2),
    ("70M", 70e6, 2),
    ("125M", 125e6, 1),
    ("350M", 350e6, 1),
]


@pytest.mark.parametrize(("rung", "named", "tables"), NAMED, ids=[r for r, _, _ in NAMED])
def test_paper_rung_names_are_totals_with_a_50k_vocabulary(
    rung: str, named: float, tables: int
) -> None:
    r = find_rung(rung, "paper")
    total = reference_params(r) + tables * PYTHIA_VOCAB * r.d_model
    assert total == pytest.approx(named, rel=0.03)


@pytest.mark.parametrize(
    ("rung", "multiple"),
    [("14M", 50), ("31M", 40), ("70M", 30), ("125M", 20), ("350M", 20)],
    ids=["14M", "31M", "70M", "125M", "350M"],
)
def test_paper_rung_budget_is_the_seed_papers(rung: str, multiple: int) -> None:
    r = find_rung(rung, "paper")
    assert r.tokens == pytest.approx(multiple * float(rung.rstrip("M")) * 1e6)
    assert r.context_length == 2048 and r.tokens_per_step == 524_288  # about 0.5M tokens
    assert r.micro * r.grad_accum == r.batch_size
    assert 3e-4 <= r.lr <= 1e-3


def test_gpt_is_sized_to_the_rung_itself() -> None:
    rung = find_rung("cpu-s")
    config = size_design(load_design(LIBRARY / "gpt"), rung, vocab_size=4096)
    assert (config.d_model, config.n_layers, config.vocab_size, config.context_length) == (
        rung.d_model,
        rung.n_layers,
        4096,
        rung.context_length,
    )


def test_a_fatter_block_gets_fewer_layers_at_the_same_width() -> None:
    rung = find_rung("cpu-m")  # d 192, 6 layers: 72 d^2
    design = gpt_with(mlp={"expand": 10})  # 24 d^2 a block against GPT's 12 d^2
    config = size_design(design, rung, vocab_size=8192)
    assert (config.d_model, config.n_layers) == (rung.d_model, 3)


def test_where_no_depth_fits_the_nearest_width_that_does_is_taken() -> None:
    rung = find_rung("cpu-m")  # 72 d^2: 20 d^2 blocks give 60 or 80 (-17%, +11%) at d 192
    design = gpt_with(mlp={"expand": 8})
    config = size_design(design, rung, vocab_size=8192)
    assert config.d_model in (160, 224) and config.d_model % 32 == 0
    assert non_embedding_params(design, config) == pytest.approx(reference_params(rung), rel=0.10)


def test_a_block_too_big_for_one_layer_gets_a_narrower_width() -> None:
    rung = Rung(name="one-layer", d_model=64, n_layers=1)
    design = gpt_with(mlp={"expand": 8})  # 20 d^2 a block against 12 d^2
    config = size_design(design, rung, vocab_size=257)
    assert config.n_layers == 1 and config.d_model < 64 and config.d_model % 16 == 0
    assert non_embedding_params(design, config) == pytest.approx(reference_params(rung), rel=0.10)


def test_widths_a_unit_rejects_are_skipped() -> None:
    rung = Rung(name="odd-heads", d_model=64, n_layers=4)
    design = gpt_with(attn={"n_heads": 3})  # 64 does not split into 3 heads; 96 does
    config = size_design(design, rung, vocab_size=257)
    assert config.d_model % 3 == 0 and (config.d_model // 3) % 2 == 0


def test_an_unsizable_design_is_reported_with_the_closest_size() -> None:
    rung = Rung(name="one-layer", d_model=64, n_layers=1)
    with pytest.raises(VerifyError, match="closest"):
        size_design(gpt_with(mlp={"expand": 16}), rung, vocab_size=257, tolerance=0.001)


@pytest.mark.parametrize("design_dir", library_designs(), ids=lambda p: Path(p).name)
def test_every_library_design_sizes_to_the_first_cpu_rungs(design_dir: Path) -> None:
    design = load_design(design_dir)
    for rung in builtin_ladders()["cpu"].rungs[:2]:
        config = size_design(design, rung, vocab_size=4096)
        assert non_embedding_params(design, config) == pytest.approx(
            reference_params(rung), rel=0.10
        ), (design.name, rung.name)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"micro_batch_size": 5}, "micro_batch_size"),
        ({"warmup": 1.5}, "warmup"),
        ({"d_model": 0}, "d_model"),
        ({"min_lr": 1.0}, "min_lr"),
        ({"tokens": -1}, "tokens"),
    ],
    ids=[
        "micro-not-dividing",
        "warmup-above-1",
        "zero-width",
        "min-lr-above-lr",
        "negative-tokens",
    ],
)
def test_a_bad_rung_field_is_named(change: dict[str, object], field: str) -> None:
    good = dataclasses.asdict(find_rung("cpu-xs"))
    with pytest.raises(ConfigError, match=field):
        Rung(**{**good, **change})  # type: ignore[arg-type]


def test_a_user_ladder_file_loads_with_defaults_and_names_bad_fields(tmp_path: Path) -> None:
    good = tmp_path / "mine.toml"
    good.write_text(
        '[mine]\n[mine.defaults]\nlr = 2e-3\ntokenizer = "bpe4k"\n'
        '[[mine.rungs]]\nname = "a"\nd_model = 64\nn_layers = 2\n'
        '[[mine.rungs]]\nname = "b"\nd_model = 128\nn_layers = 2\nlr = 1e-3\n'
    )
    ladder = load_ladder(good)
    assert [(r.name, r.lr, r.tokenizer) for r in ladder] == [
        ("a", 2e-3, "bpe4k"),
        ("b", 1e-3, "bpe4k"),
    ]
    assert find_rung("b", good).d_model == 128
    bad = tmp_path / "bad.toml"
    bad.write_text('[mine]\n[[mine.rungs]]\nname = "a"\nd_model = 64\nn_layers = 2\nwidth = 3\n')
    with pytest.raises(ConfigError, match=r"mine\.rungs\[0\]\.width"):
        load_ladder(bad)


def test_an_unknown_rung_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="cpu-xs"):
        find_rung("cpu-xxl")
    with pytest.raises(ConfigError, match="14M"):
        load_ladder("paper").rung("1B")


def test_a_builtin_ladder_can_start_at_a_rung() -> None:
    whole = load_ladder("cpu")
    ladder = load_ladder("cpu@cpu-s8")
    assert ladder.name == "cpu@cpu-s8"
    assert [r.name for r in ladder] == [r.name for r in whole][1:]
    assert ladder.rung("cpu-s8") == whole.rung("cpu-s8")
    assert ladder.rung("cpu-s").score_sigma == whole.rung("cpu-s").score_sigma
    assert find_rung("cpu-s", "cpu@cpu-s8") == whole.rung("cpu-s")
    with pytest.raises(ConfigError, match="cpu-xs"):
        ladder.rung("cpu-xs")  # below where it starts


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("cpu@cpu-xl", r"ladder 'cpu' has no rung 'cpu-xl'; its rungs: \['cpu-xs'"),
        ("gpu@cpu-s8", "neither a built-in ladder"),
        ("@cpu-s8", "neither a built-in ladder"),
    ],
)
def test_a_bad_starting_rung_is_named(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_ladder(spec)


def test_a_ladder_file_whose_name_holds_an_at_sign_is_still_a_file(tmp_path: Path) -> None:
    odd = tmp_path / "mine@v2.toml"
    odd.write_text('[mine]\n[[mine.rungs]]\nname = "a"\nd_model = 64\nn_layers = 2\n')
    assert [r.name for r in load_ladder(odd)] == ["a"]
