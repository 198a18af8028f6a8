"""Seeded training batches, sequential evaluation batches and bits per byte."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from genesys_tui.errors import VerifyError
from genesys_tui.verify.batches import BatchSampler, bits_per_byte, eval_batches


@pytest.fixture
def stream() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 4096, size=5_000).astype(np.uint16)


def batches(sampler: BatchSampler, n: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [sampler.sample() for _ in range(n)]


def test_same_seed_same_batches(stream: np.ndarray) -> None:
    a = batches(BatchSampler(stream, 4, 32, seed=11), 5)
    b = batches(BatchSampler(stream, 4, 32, seed=11), 5)
    for (xa, ya), (xb, yb) in zip(a, b, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_different_seed_different_batches(stream: np.ndarray) -> None:
    a = batches(BatchSampler(stream, 4, 32, seed=11), 3)
    b = batches(BatchSampler(stream, 4, 32, seed=12), 3)
    assert not all(torch.equal(xa, xb) for (xa, _), (xb, _) in zip(a, b, strict=True))


def test_y_is_x_shifted_by_one_within_one_window(stream: np.ndarray) -> None:
    x, y = BatchSampler(stream, 8, 64, seed=0).sample()
    assert x.shape == y.shape == (8, 64) and x.dtype == torch.int64
    assert torch.equal(x[:, 1:], y[:, :-1])
    joined = np.asarray(stream, dtype=np.int64)
    for row_x, row_y in zip(x.numpy(), y.numpy(), strict=True):
        window = np.concatenate([row_x, row_y[-1:]])
        starts = [s for s in range(len(joined) - 64) if joined[s] == window[0]]
        assert any(np.array_equal(joined[s : s + 65], window) for s in starts)


def test_sampler_resumes_from_its_state(stream: np.ndarray) -> None:
    sampler = BatchSampler(stream, 4, 16, seed=5)
    batches(sampler, 3)
    state = sampler.state_dict()
    expected = batches(sampler, 2)
    resumed = BatchSampler(stream, 4, 16, seed=999)
    resumed.load_state_dict(state)
    assert resumed.step == 3
    for (xa, ya), (xb, yb) in zip(expected, batches(resumed, 2), strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_sampler_reaches_both_ends_of_the_stream() -> None:
    stream = np.arange(10, dtype=np.uint16)
    seen = torch.cat([BatchSampler(stream, 64, 4, seed=s).sample()[1] for s in range(3)])
    assert int(seen.max()) == 9 and int(BatchSampler(stream, 64, 4, seed=0).sample()[0].min()) == 0


@pytest.mark.parametrize(
    ("n", "batch", "context"),
    [(5_000, 4, 32), (1_001, 3, 10), (17, 2, 16)],
    ids=["N5000-B4-T32", "N1001-B3-T10", "N17-B2-T16"],
)
def test_eval_batches_predict_every_token_once(n: int, batch: int, context: int) -> None:
    stream = np.arange(n, dtype=np.uint32) % 60_000
    xs, ys = [], []
    for x, y in eval_batches(stream, batch, context):
        assert x.shape == y.shape and x.shape[0] <= batch and x.shape[1] <= context
        assert torch.equal(x[:, 1:], y[:, :-1])
        xs.append(x.flatten())
        ys.append(y.flatten())
    assert torch.equal(torch.cat(ys), torch.from_numpy(stream[1:].astype(np.int64)))
    assert torch.equal(torch.cat(xs), torch.from_numpy(stream[:-1].astype(np.int64)))


def test_stream_shorter_than_a_window_is_refused() -> None:
    with pytest.raises(VerifyError, match="fewer than context"):
        BatchSampler(np.arange(8), 2, 8, seed=0)
    with pytest.raises(VerifyError, match="fewer than context"):
        next(eval_batches(np.arange(8), 2, 8))


def test_bits_per_byte_of_a_uniform_byte_model_is_eight() -> None:
    n = 1234
    assert bits_per_byte(n * math.log(256), n) == pytest.approx(8.0)
    mean_nll, tokens, n_bytes = 2.5, 1000, 3800  # the trainer's form
    assert bits_per_byte(mean_nll * tokens, n_bytes) == pytest.approx(
        mean_nll * tokens / (math.log(2) * n_bytes)
    )
    with pytest.raises(VerifyError):
        bits_per_byte(1.0, 0)
