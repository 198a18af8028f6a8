"""Word n-gram baselines (unigram, bigram) behind lm-eval's ``LM`` interface.

They answer "does a model know more than word frequencies (unigram) or adjacent-word statistics
(bigram)?": on the generated pairs a unigram scores one half by construction, a bigram solves
the local phenomena and fails where an attractor separates the words that agree. They are
trained on the words of the corpus's train split and scored by lm-eval through the same task
files as our models (registered as lm-eval model ``genesys-ngram``).

Smoothing: the unigram adds one to every count (an unknown word gets one count); the bigram is
interpolated absolute discounting (discount 0.75) backing off to that unigram.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from lm_eval.api.model import LM
from lm_eval.api.registry import register_model

from genesys_tui.errors import VerifyError

WORD = re.compile(r"\w+|[^\w\s]")
START = "<s>"
DISCOUNT = 0.75


def words(text: str) -> list[str]:
    """Words and punctuation marks of ``text``, in order."""
    return WORD.findall(text)


class NgramModel:
    """Counts of words (``order`` 1) or words and adjacent pairs (``order`` 2)."""

    def __init__(self, texts: Iterable[str], order: int) -> None:
        if order not in (1, 2):
            raise VerifyError(f"n-gram order must be 1 or 2, got {order}")
        self.order = order
        self.unigrams: Counter[str] = Counter()
        self.bigrams: Counter[tuple[str, str]] = Counter()
        for text in texts:
            for line in text.splitlines():
                toks = words(line)
                if not toks:
                    continue
                self.unigrams.update(toks)
                if order == 2:
                    self.bigrams.update(zip([START, *toks], toks, strict=False))
        self.total = sum(self.unigrams.values())
        self.vocab = len(self.unigrams) + 1  # + an unknown word
        self.history: Counter[str] = Counter()  # c(v) over bigrams
        self.followers: Counter[str] = Counter()  # distinct words seen after v
        for (v, _), n in self.bigrams.items():
            self.history[v] += n
            self.followers[v] += 1

    def unigram_logprob(self, word: str) -> float:
        return math.log((self.unigrams[word] + 1) / (self.total + self.vocab))

    def logprob(self, word: str, previous: str) -> float:
        """log p(word | previous) in nats."""
        p_uni = math.exp(self.unigram_logprob(word))
        if self.order == 1:
            return math.log(p_uni)
        c_v = self.history[previous]
        if c_v == 0:
            return math.log(p_uni)
        seen = max(self.bigrams[(previous, word)] - DISCOUNT, 0.0) / c_v
        backoff = DISCOUNT * self.followers[previous] / c_v
        return math.log(seen + backoff * p_uni)

    def score(self, toks: Sequence[str], previous: str = START) -> float:
        """Summed log-probability of ``toks`` following ``previous``."""
        total = 0.0
        for w in toks:
            total += self.logprob(w, previous)
            previous = w
        return total


@cache
def corpus_ngram(order: int) -> NgramModel:
    """An n-gram model of the embedded corpus's train split (a few seconds; cached)."""
    from genesys_tui.verify.corpus import CorpusSource, load_documents

    return NgramModel((d.text for d in load_documents(CorpusSource(), "train")), order)


@register_model("genesys-ngram")
class NgramLM(LM):
    """An ``NgramModel`` for lm-eval: ``--model genesys-ngram --model_args order=2``.

    A continuation is scored after the words of its context; a context that ends inside a word
    is not supported (the tasks here always split at spaces).
    """

    def __init__(self, order: int | str = 2, model: NgramModel | None = None, **_: Any) -> None:
        super().__init__()
        self.ngram = model if model is not None else corpus_ngram(int(order))
        self.weights_sha256 = ""

    def loglikelihood(self, requests: list[Any], disable_tqdm: bool = False) -> list[Any]:
        out = []
        for context, continuation in (r.args for r in requests):
            ctx = words(context)
            previous = ctx[-1] if ctx else START
            out.append((self.ngram.score(words(continuation), previous), False))
        return out

    def loglikelihood_rolling(self, requests: list[Any], disable_tqdm: bool = False) -> list[Any]:
        return [self.ngram.score(words(r.args[0])) for r in requests]

    def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
        raise VerifyError("the n-gram baselines score text; they do not generate")
