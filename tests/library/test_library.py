"""Every design in library/ builds, matches GPT's size, is causal, learns and stays finite.

Parametrized over the library directory, so a design added there is covered without editing
this file. Sizes are tiny; each case runs in well under a second or two on a CPU.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
import torch.nn.functional as F

from genesys_tui.config import ModelConfig
from genesys_tui.design import Design, design_from_dict, load_design
from genesys_tui.resources import library_designs, library_dir
from genesys_tui.units.lm import LanguageModel, build_lm

NAMES = [p.name for p in library_designs()]
VOCAB = 64
# Longer than two chunks of the designs' default chunk length (64): cross-chunk paths run.
T_LONG = 150


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    # Tiny models gain nothing from threads, and on a shared machine a second thread that is
    # not scheduled stalls every small op at its barrier (measured: 100x slower under load).
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _design(name: str) -> Design:
    return load_design(name)


def _model(
    name: str, d_model: int = 64, n_layers: int = 2, context: int = T_LONG, seed: int = 0
) -> LanguageModel:
    config = ModelConfig(
        d_model=d_model, n_layers=n_layers, vocab_size=VOCAB, context_length=context
    )
    return build_lm(_design(name), config, seed=seed)


def _tokens(b: int, T: int, seed: int) -> torch.Tensor:
    return torch.randint(0, VOCAB, (b, T), generator=torch.Generator().manual_seed(seed))


def test_the_library_holds_the_reference_designs() -> None:
    assert {"gpt", "mamba2", "retnet"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_each_design_has_the_proposal_the_readme_promises(name: str) -> None:
    # "Each design's proposal.md gives the paper, the key equations in words and what was
    # simplified."
    text = (library_dir() / name / "proposal.md").read_text(encoding="utf-8")
    assert "**Paper.**" in text and "## Simplified or chosen, and why" in text


@pytest.mark.parametrize("name", NAMES)
def test_design_loads_builds_and_maps_tokens_to_logits(name: str) -> None:
    design = _design(name)
    assert design.name == name
    model = _model(name, context=32)
    logits = model(_tokens(2, 19, seed=0))
    assert logits.shape == (2, 19, VOCAB)


@pytest.mark.parametrize(("d_model", "n_layers"), [(64, 2), (256, 4)], ids=["D64-N2", "D256-N4"])
@pytest.mark.parametrize("name", NAMES)
def test_non_embedding_parameters_within_20_percent_of_gpt(
    name: str, d_model: int, n_layers: int
) -> None:
    ours = _model(name, d_model, n_layers, context=32).num_params(non_embedding=True)
    gpt = _model("gpt", d_model, n_layers, context=32).num_params(non_embedding=True)
    assert 0.8 <= ours / gpt <= 1.2, f"{name}: {ours:,} vs gpt {gpt:,} ({ours / gpt:.2f}x)"


@pytest.mark.parametrize("name", NAMES)
def test_whole_model_is_causal(name: str) -> None:
    """Changing the tokens after t changes no logit at or before t, for several t."""
    model = _model(name).eval()
    cuts = [0, 37, 63, 64, 100, T_LONG - 2]
    base = _tokens(1, T_LONG, seed=1)
    other = _tokens(1, T_LONG, seed=2)
    batch = [base]
    for t in cuts:
        changed = base.clone()
        changed[:, t + 1 :] = other[:, t + 1 :]
        batch.append(changed)
    with torch.no_grad():
        logits = model(torch.cat(batch))  # (1 + len(cuts), T, V)
    for i, t in enumerate(cuts, start=1):
        torch.testing.assert_close(
            logits[i, : t + 1],
            logits[0, : t + 1],
            rtol=0,
            atol=1e-5,
            msg=lambda m, t=t: f"logits at <= {t} saw later tokens: {m}",
        )
        # The test can fail: the changed tokens do reach the later logits.
        assert not torch.allclose(logits[i, t + 1 :], logits[0, t + 1 :], atol=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_loss_falls_clearly_on_a_tiny_fixed_batch(name: str) -> None:
    model = _model(name, context=32, seed=0).train()
    x = _tokens(2, 33, seed=3)
    inputs, targets = x[:, :-1], x[:, 1:]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.0)
    losses = []
    for _ in range(30):
        loss = F.cross_entropy(model(inputs).reshape(-1, VOCAB), targets.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], f"{name}: loss {losses[0]:.3f} -> {losses[-1]:.3f}"


@pytest.mark.parametrize("autocast", [False, True], ids=["float32", "bf16-autocast"])
@pytest.mark.parametrize("name", NAMES)
def test_forward_and_backward_are_finite(name: str, autocast: bool) -> None:
    model = _model(name, context=T_LONG).train()
    x = _tokens(2, 90, seed=4)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        logits = model(x[:, :-1])
        loss = F.cross_entropy(logits.float().reshape(-1, VOCAB), x[:, 1:].reshape(-1))
    loss.backward()
    assert torch.isfinite(loss)
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{name}: no gradient reaches {pname}"
        assert torch.isfinite(p.grad).all(), f"{name}: non-finite gradient in {pname}"


@pytest.mark.parametrize("name", NAMES)
def test_sequence_mixer_moves_into_gpts_block(name: str) -> None:
    """The factorization by role pays: this design's mixer replaces GPT's attention as is."""
    donor, gpt = _design(name), _design("gpt")
    mixers = [n for n in donor.units.values() if n.role == "sequence_mixer"]
    assert mixers, f"{name} has no sequence_mixer unit"
    data = gpt.to_dict()
    data["name"] = f"gpt-with-{name}-mixer"
    data["units"]["attn"] = mixers[0].to_dict()
    sources = {**gpt.sources, mixers[0].file: donor.sources[mixers[0].file]}
    hybrid = design_from_dict(data, sources)
    config = ModelConfig(d_model=64, n_layers=2, vocab_size=VOCAB, context_length=32)
    logits = build_lm(hybrid, config, seed=0)(_tokens(1, 20, seed=5))
    assert logits.shape == (1, 20, VOCAB)
    assert torch.isfinite(logits).all()
