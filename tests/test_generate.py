"""``genesys generate``: a checkpoint's greedy continuation, the same with and without the cache;
a design whose units cannot cache says so once and recomputes; bad input is exit 2. The
generation benchmark runs on a tiny setting and checks both ways agree."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from genesys_tui.cli import main
from genesys_tui.config import ModelConfig
from genesys_tui.design import load_design
from genesys_tui.ladder import load_ladder
from genesys_tui.resources import library_dir
from genesys_tui.units.lm import build_lm
from genesys_tui.verify.checkpoint import save_checkpoint
from genesys_tui.verify.tokenizer import load_tokenizer

SIZE = ModelConfig(d_model=64, n_layers=2, vocab_size=257, context_length=64)


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    design = load_design(library_dir() / "mamba2")
    model = build_lm(design, SIZE, seed=4)
    return save_checkpoint(
        tmp_path / "m.pt", model=model, design=design, config=SIZE, tokenizer="bytes",
        rung=load_ladder("cpu").rungs[0], step=1, tokens=10, seed=4,
    )  # fmt: skip


def test_a_checkpoint_continues_the_prompt_greedily_with_or_without_the_cache(
    checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["generate", str(checkpoint), "--prompt", "The cat", "--max-new-tokens", "12"]
    assert main(argv) == 0
    cached = capsys.readouterr()
    assert main([*argv, "--no-cache"]) == 0
    plain = capsys.readouterr()
    assert "cached)" in cached.err.splitlines()[-1] and "recomputed)" in plain.err
    assert cached.out == plain.out

    # What a user would write by hand: argmax of the full forward, token by token.
    from genesys_tui.verify.checkpoint import load_checkpoint

    model, _ = load_checkpoint(checkpoint)
    tok = load_tokenizer("bytes")
    ids = torch.tensor([tok.encode("The cat")])
    for _ in range(12):
        with torch.no_grad():
            ids = torch.cat([ids, model(ids)[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert cached.out == tok.decode(ids[0, 7:].tolist()) + "\n"


def test_a_design_that_cannot_cache_says_so_and_recomputes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    design_dir = tmp_path / "gpt-nocache"
    shutil.copytree(library_dir() / "gpt", design_dir)
    mlp = design_dir / "units" / "mlp.py"
    text = mlp.read_text()
    assert 'decode = "pointwise"' in text
    mlp.write_text("\n".join(ln for ln in text.splitlines() if "decode = " not in ln) + "\n")
    argv = ["generate", str(design_dir), "--prompt", "Hi", "--max-new-tokens", "3"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert err.count("cannot decode with a cache") == 1 and "MLP" in err
    assert "recomputed" in err


def test_bad_input_is_one_line_and_exit_2(
    checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["generate", "no-such-thing", "--prompt", "x"]) == 2
    assert "neither a checkpoint file nor a design" in capsys.readouterr().err
    assert main(["generate", str(checkpoint), "--prompt", "x", "--max-new-tokens", "0"]) == 2
    assert "--max-new-tokens" in capsys.readouterr().err
    assert main(["generate", "gpt", "--prompt", "x", "--rung", "nope"]) == 2
    assert "no rung 'nope'" in capsys.readouterr().err


def test_the_generation_benchmark_compares_both_ways_on_a_tiny_setting() -> None:
    from genesys_tui.bench.generate import format_table, measure

    rows = [measure(name, 2, prompt_len=5, new=6) for name in ("gpt", "rwkv7")]
    assert all(r.same_tokens and r.cached_tps > 0 and r.recompute_tps > 0 for r in rows)
    assert all(r.speedup == pytest.approx(r.cached_tps / r.recompute_tps) for r in rows)
    assert "rwkv7" in format_table(rows)
