"""Synthetic probes: documents are well formed and seeded, training lowers the loss, and the score
comes through lm-eval as exact greedy answers."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
import torch

from genesys_tui import load_design
from genesys_tui.config import from_mapping
from genesys_tui.errors import ConfigError, VerifyError
from genesys_tui.verify.evals import probes as P
from tests.conftest import LIBRARY

TINY = P.ProbeSettings(d_model=32, n_layers=1, steps=30, batch_size=16, test_docs=40)


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_mqar_answers_each_query_with_its_key_value():
    docs = P.mqar_docs(random.Random(0), pairs=4, queries=3)
    listing = docs[0][0][:8]
    values = {listing[i]: listing[i + 1] for i in range(0, 8, 2)}
    assert len(docs) == 3
    for context, answer in docs:
        assert context[-1] in P.KEYS and values[context[-1]] == answer
    # later queries see earlier ones answered
    assert docs[1][0].startswith(docs[0][0] + docs[0][1])


def test_selective_copy_answer_is_the_data_in_order():
    [(context, answer)] = P.selective_copy_docs(random.Random(0), length=12, n_data=3)
    assert context.endswith(P.SEPARATOR) and len(context) == 13
    assert answer == "".join(c for c in context[:-1] if c != P.NOISE)


@pytest.mark.parametrize("name", list(P.PROBES))
def test_batches_score_only_the_answers(name: str):
    p = P.PROBES[name]
    x, y = P._batch(p, random.Random(0), 4)
    assert x.shape == y.shape == (4, p.context_length)
    for row in range(4):
        scored = (y[row] != -100).nonzero().flatten()
        # each scored target is the next input token: the answer, predicted from before it
        for pos in scored[:-1].tolist():
            assert y[row, pos] == x[row, pos + 1]
    assert int((y != -100).sum()) == 4 * 4  # four answer tokens per sequence in both probes


@pytest.mark.parametrize("name", list(P.PROBES))
def test_heldout_docs_are_seeded_and_apart_from_training(name: str):
    assert P.heldout_docs(name, 10, seed=0) == P.heldout_docs(name, 10, seed=0)
    assert P.heldout_docs(name, 10, seed=0) != P.heldout_docs(name, 10, seed=1)


def test_training_lowers_the_probe_loss():
    design = load_design(LIBRARY / "gpt")
    _, short = P.train_probe(
        design, "selective_copy", TINY.__class__(**{**TINY.__dict__, "steps": 2})
    )
    _, longer = P.train_probe(design, "selective_copy", TINY)
    assert longer < short


def test_probe_scores_through_lm_eval():
    result = P.run_probe(load_design(LIBRARY / "gpt"), "mqar", TINY)
    assert 0.0 <= result.accuracy <= 1.0
    assert result.chance == pytest.approx(1 / 26)
    assert set(result.to_dict()) == {"accuracy", "chance", "loss", "seconds"}


def test_unknown_probe_and_bad_settings_are_refused():
    with pytest.raises(VerifyError, match="unknown probe"):
        P.probe("needle")
    with pytest.raises(ConfigError, match=r"probes\.steps"):
        from_mapping(P.ProbeSettings, {"steps": 0})
