"""The offline designer: seeded, valid, novel edits of unit trees."""

from __future__ import annotations

import random

import pytest
import torch

from genesys_tui import ModelConfig, build_lm, load_design
from genesys_tui.design import Arg
from genesys_tui.designer import DesignFailure, DesignRequest, Parent, Proposal
from genesys_tui.draft import DesignDraft, structural_hash
from genesys_tui.evolve.offline import OfflineDesigner, perturb
from genesys_tui.evolve.pool import UnitPool
from genesys_tui.resources import library_designs

GPT = load_design("gpt")


@pytest.fixture(scope="module")
def designer() -> OfflineDesigner:
    return OfflineDesigner(UnitPool.from_designs([load_design(p) for p in library_designs()]))


def _mutate(designer: OfflineDesigner, seed: int) -> Proposal:
    out = designer.design(DesignRequest("mutation", (Parent("gpt", GPT),), seed=seed))
    assert isinstance(out, Proposal), out
    return out


def test_same_seed_same_design(designer: OfflineDesigner) -> None:
    a, b = _mutate(designer, 11), _mutate(designer, 11)
    assert a.design.to_dict() == b.design.to_dict()
    assert a.files == b.files


@pytest.mark.parametrize("seed", range(8))
def test_mutation_is_valid_novel_and_builds(designer: OfflineDesigner, seed: int) -> None:
    child = _mutate(designer, seed).design
    assert structural_hash(child) != structural_hash(GPT)
    model = build_lm(child, ModelConfig(d_model=64, n_layers=2, vocab_size=50), seed=0)
    assert model(torch.randint(0, 50, (1, 9))).shape == (1, 9, 50)


def test_proposal_says_what_changed_and_why(designer: OfflineDesigner) -> None:
    text = _mutate(designer, 3).files["proposal.md"]
    assert "## What changed" in text and "## Why it might help" in text
    assert "Parents: gpt (gpt)" in text


def test_siblings_are_not_repeated(designer: OfflineDesigner) -> None:
    first = _mutate(designer, 5).design
    again = designer.design(
        DesignRequest("mutation", (Parent("gpt", GPT),), seed=5, siblings=(first,))
    )
    assert isinstance(again, Proposal)
    assert structural_hash(again.design) != structural_hash(first)


def test_crossover_takes_units_from_both_parents(designer: OfflineDesigner) -> None:
    other = _mutate(designer, 1).design
    seen_interleave = seen_exchange = False
    for seed in range(12):
        out = designer.design(
            DesignRequest("crossover", (Parent("a", GPT), Parent("b", other)), seed=seed)
        )
        assert isinstance(out, Proposal)
        if len(out.design.roots) == 2:
            seen_interleave = True
        else:
            seen_exchange = True
        assert structural_hash(out.design) not in {structural_hash(GPT), structural_hash(other)}
    assert seen_interleave and seen_exchange


def test_scratch_builds_a_block_from_the_pool(designer: OfflineDesigner) -> None:
    out = designer.design(DesignRequest("scratch", (), seed=2))
    assert isinstance(out, Proposal)
    assert out.design.units[out.design.roots[0]].role == "block"


def test_designer_without_options_fails_with_a_reason() -> None:
    empty = OfflineDesigner(UnitPool())
    out = empty.design(DesignRequest("scratch", (), seed=0))
    assert isinstance(out, DesignFailure)
    assert "gave up" in out.reason


def test_modifier_wrap_and_unwrap_round_trip(designer: OfflineDesigner) -> None:
    draft = DesignDraft.from_design(GPT)
    mod = next(m for m in designer.pool.modifiers if m.cls == "GatedSequenceMixer")
    new = draft.wrap("attn", mod.unit(), mod.source, "inner")
    wrapped = draft.finish()
    assert wrapped.units["block"].children["mixer"] == new
    draft.unwrap(new, "inner")
    assert structural_hash(draft.finish()) == structural_hash(GPT)


@pytest.mark.parametrize(
    ("arg", "value"),
    [
        (Arg(4, low=1, high=8), 8),
        (Arg(4, low=1, high=8), 1),
        (Arg(0.5, low=0.1, high=0.9), 0.5),
        (Arg("a", choices=("a", "b")), "a"),
        (Arg(True), True),
    ],
)
def test_perturbed_arguments_stay_in_range(arg: Arg, value: object) -> None:
    rng = random.Random(0)
    for _ in range(50):
        new = perturb(arg, value, rng)
        assert new is not None
        arg.validate(new)
