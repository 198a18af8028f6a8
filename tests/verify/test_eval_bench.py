"""The evaluation-throughput benchmark runs both sides on the same requests (tiny sizes)."""

from __future__ import annotations

import pytest
import torch

from genesys_tui.bench.evaluation import _requests, compare


def test_requests_are_whole_sentences_of_generated_pairs():
    reqs = _requests(30, seed=0)
    assert len(reqs) == 30
    assert all(r.args[0] == "" and r.args[1].startswith(" ") for r in reqs)


def test_ours_and_hflm_both_score_the_requests():
    pytest.importorskip("accelerate", reason="lm-eval's HFLM needs accelerate")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        got = compare(d_model=32, n_layers=1, n_heads=2, context=64, tokenizer="bytes",
                      batch_size=8, requests=16, rounds=1)  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    assert got.requests == 16 and got.ours > 0 and got.hf > 0
    assert set(got.to_dict()) == {"requests", "requests_per_second", "ratio", "rounds"}
