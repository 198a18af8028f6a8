"""Held-out metrics: loss and bits per byte, checked against cases worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from genesys_tui.errors import VerifyError
from genesys_tui.verify.batches import eval_batches
from genesys_tui.verify.metrics import evaluate
from genesys_tui.verify.tokenizer import load_tokenizer


class FixedLogits(nn.Module):
    """Predicts the same next-token logits at every position, whatever the input."""

    def __init__(self, logits: list[float]) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.tensor(logits))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(*idx.shape, -1)  # (B, T, V)


def test_uniform_model_costs_ln_v_per_token_and_bits_per_byte_by_hand() -> None:
    # Four tokens of 1, 2, 3 and 0 bytes (the last is end-of-text). Targets 0, 1, 3 cover
    # 1 + 2 + 0 = 3 bytes and cost ln 4 nats each: 3 * 2 bits / 3 bytes = 2 bits per byte.
    model = FixedLogits([0.0, 0.0, 0.0, 0.0])
    x, y = torch.tensor([[2, 2, 2]]), torch.tensor([[0, 1, 3]])
    result = evaluate(model, [(x, y)], np.array([1, 2, 3, 0]))
    assert result.loss == pytest.approx(math.log(4))
    assert (result.tokens, result.bytes) == (3, 3)
    assert result.bpb == pytest.approx(2.0)


def test_bits_per_byte_of_a_skewed_model_by_hand() -> None:
    # p = softmax(ln 1, ln 3) = (1/4, 3/4). Targets 1, 1, 0 (bytes 1, 1, 2): code length
    # 2 log2(4/3) + log2(4) = 2.830 bits over 4 bytes.
    model = FixedLogits([0.0, math.log(3.0)])
    batches = [
        (torch.zeros(1, 2, dtype=torch.long), torch.tensor([[1, 1]])),
        (torch.zeros(1, 1, dtype=torch.long), torch.tensor([[0]])),
    ]
    result = evaluate(model, batches, np.array([2, 1]))
    assert result.bpb == pytest.approx((2 * math.log2(4 / 3) + 2) / 4)
    assert result.loss == pytest.approx((2 * math.log(4 / 3) + math.log(4)) / 3)


def test_uniform_model_on_real_text_costs_log2_v_bits_per_token_of_one_byte() -> None:
    # The byte tokenizer: every id but end-of-text is one byte, so a uniform guess over its
    # 257 ids costs log2(257) bits per token, spread over the bytes that are not EOT.
    tok = load_tokenizer("bytes")
    text = "Bits per byte: fair across tokenizers. Ünïcode too. " * 5
    stream = np.array([tok.eot_id, *tok.encode(text), tok.eot_id, *tok.encode(text), tok.eot_id])
    model = FixedLogits([0.0] * tok.vocab_size)
    result = evaluate(model, eval_batches(stream, 4, 16), tok.token_bytes())
    n_bytes = 2 * len(text.encode("utf-8"))
    assert (result.tokens, result.bytes) == (len(stream) - 1, n_bytes)
    assert result.bpb == pytest.approx(math.log2(257) * (len(stream) - 1) / n_bytes)


def test_evaluate_restores_training_mode_and_needs_tokens() -> None:
    model = FixedLogits([0.0, 0.0])
    model.train()
    evaluate(
        model,
        [(torch.zeros(1, 1, dtype=torch.long), torch.zeros(1, 1, dtype=torch.long))],
        np.array([1, 1]),
    )
    assert model.training
    with pytest.raises(VerifyError, match="no windows"):
        evaluate(model, [], np.array([1, 1]))
