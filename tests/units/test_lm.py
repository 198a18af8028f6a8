"""The LM scaffold: causality, tied head, parameter counts, init, and equality with plain GPT."""

from __future__ import annotations

import math
import sys

import pytest
import torch

from genesys_tui import ModelConfig, build_lm, load_design
from genesys_tui.bench.plain_gpt import PlainGPT
from genesys_tui.errors import ConfigError, UnitError
from genesys_tui.resources import library_designs

LIBRARY_NAMES = [p.name for p in library_designs()]
TINY = ModelConfig(d_model=64, n_layers=2, vocab_size=97, context_length=32)


@pytest.mark.parametrize("name", LIBRARY_NAMES)
def test_logits_shape(name: str) -> None:
    model = build_lm(load_design(name), TINY, seed=0)
    ids = torch.randint(0, TINY.vocab_size, (2, 20))
    assert model(ids).shape == (2, 20, TINY.vocab_size)


@pytest.mark.parametrize("name", LIBRARY_NAMES)
@pytest.mark.parametrize("t", [0, 7, 18])
def test_changing_future_tokens_leaves_past_logits_unchanged(name: str, t: int) -> None:
    model = build_lm(load_design(name), TINY, seed=0).double().eval()
    gen = torch.Generator().manual_seed(t)
    ids = torch.randint(0, TINY.vocab_size, (2, 24), generator=gen)
    changed = ids.clone()
    changed[:, t + 1 :] = torch.randint(
        0, TINY.vocab_size, changed[:, t + 1 :].shape, generator=gen
    )
    with torch.no_grad():
        a, b = model(ids), model(changed)
    torch.testing.assert_close(a[:, : t + 1], b[:, : t + 1], rtol=1e-9, atol=1e-9)
    assert not torch.allclose(a[:, t + 1 :], b[:, t + 1 :])


def test_gpt_parameter_count_matches_the_formula() -> None:
    D, L, V = 128, 3, 500
    model = build_lm(load_design("gpt"), ModelConfig(d_model=D, n_layers=L, vocab_size=V))
    per_layer = 12 * D * D + 2 * D  # qkv + out (4 D^2), MLP (8 D^2), two norms
    assert model.num_params(non_embedding=True) == L * per_layer + D
    assert model.num_params() == L * per_layer + D + V * D


def test_head_is_tied_to_embedding() -> None:
    model = build_lm(load_design("gpt"), TINY, seed=0)
    ids = torch.randint(0, TINY.vocab_size, (1, 5))
    h, _ = model.forward_hidden(ids)
    torch.testing.assert_close(model(ids), h @ model.wte.weight.T)


def test_residual_projections_are_scaled_by_depth() -> None:
    cfg = ModelConfig(d_model=256, n_layers=8, vocab_size=100)
    model = build_lm(load_design("gpt"), cfg, seed=0)
    out_std = model.blocks[0].mixer.out_proj.weight.std().item()
    qkv_std = model.blocks[0].mixer.qkv.weight.std().item()
    assert qkv_std == pytest.approx(0.02, rel=0.05)
    assert out_std == pytest.approx(0.02 / math.sqrt(2 * 8), rel=0.05)


def test_seeded_build_is_reproducible_and_leaves_global_rng_alone() -> None:
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a = build_lm(load_design("gpt"), TINY, seed=5)
    assert torch.equal(before, torch.random.get_rng_state())
    b = build_lm(load_design("gpt"), TINY, seed=5)
    c = build_lm(load_design("gpt"), TINY, seed=6)
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q), name
    assert not torch.equal(a.wte.weight, c.wte.weight)


def test_framework_gpt_equals_hand_written_gpt() -> None:
    cfg = ModelConfig(d_model=64, n_layers=3, vocab_size=101, context_length=32)
    ours = build_lm(load_design("gpt"), cfg, seed=0).double()
    plain = PlainGPT(cfg.vocab_size, cfg.d_model, cfg.n_layers, 4, cfg.context_length).double()
    plain.load_state_dict(ours.state_dict())  # same names, same shapes
    ids = torch.randint(0, cfg.vocab_size, (2, 30))
    a, b = ours(ids), plain(ids)
    torch.testing.assert_close(a, b)
    a.sum().backward()
    b.sum().backward()
    torch.testing.assert_close(ours.wte.weight.grad, plain.wte.weight.grad)


def test_unit_sources_do_not_leak_into_sys_modules() -> None:
    before = set(sys.modules)
    build_lm(load_design("gpt"), TINY)
    assert not {m for m in set(sys.modules) - before if "genesys_unit" in m}


def test_two_designs_with_the_same_class_name_do_not_clash(tmp_path) -> None:
    design = load_design("gpt")
    mlp = design.sources["units/mlp.py"]
    # A second design whose MLP has the same class name but no hidden expansion bias.
    variant = mlp.replace("F.gelu(self.fc(X))", "torch.relu(self.fc(X))").replace(
        "import torch.nn.functional as F", "import torch\nimport torch.nn.functional as F"
    )
    other = design.save(tmp_path / "relu", {"units/mlp.py": variant})
    m1 = build_lm(design, TINY, seed=0)
    m2 = build_lm(load_design(other), TINY, seed=0)
    cls1, cls2 = type(m1.blocks[0].mlp), type(m2.blocks[0].mlp)
    assert cls1.__name__ == cls2.__name__ == "MLP"
    assert cls1 is not cls2
    ids = torch.randint(0, TINY.vocab_size, (1, 8))
    assert not torch.allclose(m1(ids), m2(ids))


def test_unit_that_drops_its_child_is_reported(tmp_path) -> None:
    design = load_design("gpt")
    block = design.sources["units/pre_norm_block.py"].replace("self.mlp = mlp", "self.ffn = mlp")
    broken = design.save(tmp_path / "broken", {"units/pre_norm_block.py": block})
    with pytest.raises(UnitError, match=r"self\.mlp"):
        build_lm(load_design(broken), TINY)


def test_layer_pattern_alternates_roots(tmp_path) -> None:
    data = load_design("gpt").to_dict()
    data["units"]["block2"] = dict(data["units"]["block"])
    data["units"]["block2"]["children"] = {
        "norm1": "n1",
        "mixer": "attn2",
        "norm2": "n2",
        "mlp": "mlp2",
    }
    data["units"]["n1"] = data["units"]["attn_norm"]
    data["units"]["n2"] = data["units"]["mlp_norm"]
    data["units"]["attn2"] = {**data["units"]["attn"], "args": {"n_heads": 2}}
    data["units"]["mlp2"] = {**data["units"]["mlp"], "args": {"expand": 2}}
    data["root"] = ["block", "block2"]
    from genesys_tui.design import design_from_dict

    design = design_from_dict(data, load_design("gpt").sources)
    model = build_lm(design, ModelConfig(d_model=64, n_layers=4, vocab_size=50))
    heads = [b.mixer.n_heads for b in model.blocks]
    assert heads == [4, 2, 4, 2]


@pytest.mark.parametrize(
    ("field", "value"), [("d_model", 0), ("n_layers", -1), ("vocab_size", 2.5), ("dropout", 1.0)]
)
def test_model_config_rejects_bad_values(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field):
        ModelConfig(**{field: value})  # type: ignore[arg-type]


def test_gpt_trains_on_a_fixed_batch() -> None:
    model = build_lm(load_design("gpt"), TINY, seed=0)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    ids = torch.randint(0, TINY.vocab_size, (4, 17), generator=torch.Generator().manual_seed(0))
    losses = []
    for _ in range(30):
        logits = model(ids[:, :-1])
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, TINY.vocab_size), ids[:, 1:].reshape(-1)
        )
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
