"""Held-out text tasks, mined from documents no model trained on (the corpus's test split).

``heldout_lastword``: a passage (the previous sentence and the start of this one) and four
candidate last words of the sentence, one of them the word the author wrote. The three
distractors are drawn uniformly from the pool of every item's true last word, so they follow the
same word-frequency distribution as the answers: a model that only knows how common words are
(the unigram baseline) is at chance, 1/4, in expectation. What earns more is reading the passage:
the previous word, the sentence's syntax, the topic.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from genesys_tui.errors import VerifyError

LASTWORD = "heldout_lastword"
LASTWORD_CHOICES = 4
#: A sentence: text up to a full stop, question or exclamation mark followed by white space.
_SENTENCE = re.compile(r"[^.!?]+[.!?]+(?=\s|$)")
#: A sentence whose last word (lower-case letters, 3 or more) is followed by a full stop.
_LAST_WORD = re.compile(r"^(?P<head>.*\S)\s+(?P<word>[a-z]{3,})\.$", re.DOTALL)
MIN_WORDS, MAX_WORDS = 6, 40  # words in the sentence that ends with the target
MAX_CONTEXT_CHARS = 400  # the passage is cut (at a space) to at most this many characters


@dataclass(frozen=True)
class LastWordItem:
    context: str  # the passage up to, not including, the space before the last word
    answer: str  # the word the author wrote
    choices: tuple[str, ...]  # "word." in the presented order (lm-eval puts a space before)
    label: int  # index of the answer in choices


def _passages(text: str) -> list[tuple[str, str, str]]:
    """(previous sentence, head of this sentence, last word) for each usable sentence."""
    out = []
    previous = ""
    for para in re.split(r"\n\s*\n", text):
        flat = " ".join(para.split())
        for sentence in _SENTENCE.findall(flat):
            sentence = sentence.strip()
            m = _LAST_WORD.match(sentence)
            if m and MIN_WORDS <= len(sentence.split()) <= MAX_WORDS and '"' not in sentence:
                out.append((previous, m["head"], m["word"]))
            previous = sentence
        previous = ""  # a new paragraph starts a new passage
    return out


def _context(previous: str, head: str) -> str:
    text = f"{previous} {head}".strip() if previous else head
    if len(text) > MAX_CONTEXT_CHARS:
        cut = text[-MAX_CONTEXT_CHARS:]
        text = cut[cut.find(" ") + 1 :] if " " in cut else cut
    return text


def mine_lastword(texts: list[str], n: int, seed: int = 0) -> list[LastWordItem]:
    """``n`` last-word items from ``texts`` (held-out documents), seeded and deterministic.

    Raises VerifyError when the texts hold fewer than ``n`` usable sentences or fewer than
    ``LASTWORD_CHOICES`` distinct last words.
    """
    if n < 1:
        raise VerifyError(f"heldout_lastword needs at least one item, got {n}")
    found = [p for text in texts for p in _passages(text)]
    if len(found) < n:
        raise VerifyError(
            f"the held-out text gives {len(found)} usable sentences for {LASTWORD}, not {n}"
        )
    rng = random.Random(f"genesys-lastword:{seed}")
    picked = rng.sample(found, n)
    pool = [word for _, _, word in picked]
    if len(set(pool)) < LASTWORD_CHOICES:
        raise VerifyError(f"{LASTWORD}: fewer than {LASTWORD_CHOICES} distinct last words")
    items = []
    for previous, head, word in picked:
        distractors: list[str] = []
        while len(distractors) < LASTWORD_CHOICES - 1:
            other = rng.choice(pool)
            if other != word and other not in distractors:
                distractors.append(other)
        label = rng.randrange(LASTWORD_CHOICES)
        words = [*distractors[:label], word, *distractors[label:]]
        items.append(
            LastWordItem(_context(previous, head), word, tuple(f"{w}." for w in words), label)
        )
    return items


def heldout_texts() -> list[str]:
    """The documents of the embedded corpus's test split (never trained on)."""
    from genesys_tui.verify.corpus import CorpusSource, load_documents

    return [d.text for d in load_documents(CorpusSource(), "test")]
