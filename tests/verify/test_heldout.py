"""heldout_lastword: mined from the held-out split, distractors drawn from the answers' own
distribution, scored through lm-eval."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from genesys_tui.errors import VerifyError
from genesys_tui.verify.evals.baselines import NgramLM, NgramModel
from genesys_tui.verify.evals.evaluate import evaluate
from genesys_tui.verify.evals.heldout import LASTWORD, heldout_texts, mine_lastword

TEXT = (
    "The farmer walked along the road. He saw a large red barn near the river.\n\n"
    "It was late in the evening. The children ran home across the fields.\n\n"
    "She opened the old wooden door slowly. Inside the room stood a tall cupboard.\n\n"
    "They sat down at the table. Mother served the soup in white bowls.\n\n"
    "Is this the place? The dog barked at the stranger.\n\n"
    "Tom went 3 miles. The train left at 5.\n"
)


def test_items_come_from_the_text_and_hold_their_answer():
    items = mine_lastword([TEXT], 8, seed=0)
    answers = {"road", "river", "evening", "fields", "slowly", "cupboard", "table", "bowls",
               "stranger", "miles"}  # fmt: skip
    assert {it.answer for it in items} <= answers
    for it in items:
        assert it.choices[it.label] == f"{it.answer}."
        assert len(set(it.choices)) == 4
        assert f"{it.context} {it.answer}." in " ".join(TEXT.split())
    # a passage starts at most one sentence back, never in the paragraph before
    river = next(it for it in items if it.answer == "river")
    assert river.context == "The farmer walked along the road. He saw a large red barn near the"
    evening = next((it for it in items if it.answer == "evening"), None)
    assert evening is None or evening.context == "It was late in the"


def test_mining_is_seeded():
    assert mine_lastword([TEXT], 6, seed=1) == mine_lastword([TEXT], 6, seed=1)
    assert mine_lastword([TEXT], 6, seed=1) != mine_lastword([TEXT], 6, seed=2)


def test_too_little_text_is_a_clear_error():
    with pytest.raises(VerifyError, match="usable sentences"):
        mine_lastword([TEXT], 50)


def test_word_frequency_alone_is_at_chance():
    # Distractors follow the answers' distribution: picking the most common word gains nothing.
    items = mine_lastword(heldout_texts(), 2000, seed=0)
    freq = Counter(it.answer for it in items)
    right = sum(
        max(range(4), key=lambda i: (freq[it.choices[i][:-1]], i)) == it.label for it in items
    )
    assert abs(right / len(items) - 0.25) < 0.04


def test_scored_through_lm_eval(tmp_path: Path):
    # A bigram that has read the held-out text itself knows which word follows the passage's
    # last word: far above chance, which shows the answer's index reaches lm-eval intact.
    lm = NgramLM(model=NgramModel(heldout_texts(), 2))
    report = evaluate(lm, [LASTWORD], pairs=200, workdir=tmp_path)
    rows = [json.loads(x) for x in (tmp_path / f"{LASTWORD}.jsonl").read_text().splitlines()]
    assert len(rows) == 200 and {"context", "choices", "label", "answer"} <= set(rows[0])
    assert report.accuracy[LASTWORD] > 0.6
