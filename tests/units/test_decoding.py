"""Cached decoding: for every library design, running a prompt and then one token at a time
against a ``DecodeCache`` gives the logits the ordinary (chunked) forward gives on the whole
sequence, in float64, for prompt lengths 1, short and not a multiple of any chunk; generation
with the cache equals generation by recomputation."""

from __future__ import annotations

import pytest
import torch

from genesys_tui.config import ModelConfig
from genesys_tui.design import design_from_dict, load_design
from genesys_tui.resources import library_dir
from genesys_tui.units.contract import DecodeCache
from genesys_tui.units.lm import build_lm

DESIGNS = ("gpt", "mamba2", "retnet", "rwkv7", "ttt")
# chunk 16 for the chunked mixers so that sequences cross several chunks at this size
SIZE = ModelConfig(d_model=64, n_layers=2, vocab_size=257, context_length=96)


def _model(name: str) -> torch.nn.Module:
    design = load_design(library_dir() / name)
    tree = design.to_dict()
    for uid in design.units:
        if "chunk_size" in design.decls[uid].args:
            tree["units"][uid].setdefault("args", {})["chunk_size"] = 16
    design = design_from_dict(tree, design.sources)
    model = build_lm(design, SIZE, seed=0).double().eval()
    # Perturb every parameter so that no init symmetry (zeros, ones) hides a wrong state.
    with torch.no_grad():
        g = torch.Generator().manual_seed(1)
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.05)
    return model


@pytest.mark.parametrize("name", DESIGNS)
def test_the_library_design_decodes_with_a_cache(name: str) -> None:
    model = _model(name)
    assert model.can_cache(), model.uncached_units()


@pytest.mark.parametrize("name", DESIGNS)
@pytest.mark.parametrize("prompt", [1, 5, 37])
def test_cached_steps_give_the_full_forward_logits(name: str, prompt: int) -> None:
    model = _model(name)
    total = prompt + 23  # crosses chunk and mini-batch boundaries (16) after the prompt
    ids = torch.randint(0, SIZE.vocab_size, (2, total), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        want = model(ids)
        cache = DecodeCache()
        got = [model(ids[:, :prompt], cache)]
        for t in range(prompt, total):
            got.append(model(ids[:, t : t + 1], cache))
    got_all = torch.cat(got, dim=1)
    assert cache.offset == total
    torch.testing.assert_close(got_all, want, atol=1e-9, rtol=1e-9)


@pytest.mark.parametrize("name", DESIGNS)
def test_cached_generation_equals_recomputation(name: str) -> None:
    model = _model(name)
    ids = torch.randint(0, SIZE.vocab_size, (3, 9), generator=torch.Generator().manual_seed(3))
    cached = model.generate(ids, 20, use_cache=True)
    plain = model.generate(ids, 20, use_cache=False)
    assert torch.equal(cached, plain)
    assert cached.shape == (3, 29) and torch.equal(cached[:, :9], ids)


def test_a_design_with_a_unit_that_cannot_cache_recomputes_and_says_which() -> None:
    from genesys_tui.units.contract import Unit

    model = _model("gpt")
    with pytest.raises(ValueError, match="CausalSelfAttention"):
        type(model.blocks[0].mixer).decode = "recompute"
        try:
            assert not model.can_cache()
            ids = torch.zeros(1, 4, dtype=torch.long)
            assert model.generate(ids, 2).shape == (1, 6)  # falls back to recomputation
            model(ids, DecodeCache())
        finally:
            type(model.blocks[0].mixer).decode = "cached"
    assert Unit.decode == "recompute"
