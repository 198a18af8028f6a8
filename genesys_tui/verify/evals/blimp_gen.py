"""A BLiMP-style generator: seeded minimal pairs over the corpus's own words.

Each phenomenon is a template (a pure function of the words it is given, returning the good and
the bad sentence, which differ in one word) and a sampler that draws the words from the
``Lexicon`` with a seeded generator. Pairs come in couples that share every word and differ in
the direction of the contrast (singular subject then plural subject, male then female, "a" then
"an"), so a model that merely prefers one form (the plural verb, "himself") scores exactly half
on them: only agreement earns more. A model scores a pair right when it gives the whole good
sentence a higher probability than the whole bad one (BLiMP's "simple LM method"). No torch.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from genesys_tui.errors import VerifyError
from genesys_tui.verify.evals.lexicon import Lexicon, Noun, Verb, brown_lexicon

BE = Verb("is", "are")
BE_PAST = Verb("was", "were")
HAVE = Verb("has", "have")
DEFAULT_PAIRS = 1000


@dataclass(frozen=True)
class Pair:
    """One minimal pair: ``good`` is grammatical, ``bad`` differs from it in one word."""

    phenomenon: str
    good: str
    bad: str
    direction: str  # which side of the contrast is right: "sg"/"pl", "m"/"f", "a"/"an"

    def to_dict(self) -> dict[str, str]:
        return {
            "phenomenon": self.phenomenon,
            "sentence_good": self.good,
            "sentence_bad": self.bad,
            "direction": self.direction,
        }


def _pair(phenomenon: str, direction: str, good: list[str], bad: list[str]) -> Pair:
    return Pair(phenomenon, " ".join(good) + ".", " ".join(bad) + ".", direction)


def _num(plural: bool) -> str:
    return "pl" if plural else "sg"


# ------------------------------------------------------------------------------- templates


def sva_local(subject: Noun, verb: Verb, tail: str, plural: bool) -> Pair:
    """ "The dogs chase the cat." / "The dogs chases the cat.": the verb agrees with its
    adjacent subject."""
    head = ["The", subject.form(plural)]
    return _pair(
        "sva_local", _num(plural),
        [*head, verb.form(plural), tail], [*head, verb.form(not plural), tail],
    )  # fmt: skip


def sva_irregular(subject: Noun, verb: Verb, tail: str, plural: bool) -> Pair:
    """As ``sva_local`` with an irregular plural subject ("The children run ...")."""
    p = sva_local(subject, verb, tail, plural)
    return Pair("sva_irregular", p.good, p.bad, p.direction)


def sva_pp(subject: Noun, prep: str, attractor: Noun, verb: Verb, tail: str, plural: bool) -> Pair:
    """ "The key to the cabinets is old.": a prepositional phrase puts a noun of the other
    number (the attractor) between the subject and its verb."""
    head = ["The", subject.form(plural), prep, "the", attractor.form(not plural)]
    return _pair(
        "sva_pp", _num(plural),
        [*head, verb.form(plural), tail], [*head, verb.form(not plural), tail],
    )  # fmt: skip


def sva_rc(
    subject: Noun, attractor: Noun, rc_verb: Verb, verb: Verb, tail: str, plural: bool
) -> Pair:
    """ "The dog that the cats chase eats the bone.": an object relative clause whose own
    subject and verb have the other number sits between the subject and its verb."""
    head = ["The", subject.form(plural), "that", "the", attractor.form(not plural)]
    head.append(rc_verb.form(not plural))
    return _pair(
        "sva_rc", _num(plural),
        [*head, verb.form(plural), tail], [*head, verb.form(not plural), tail],
    )  # fmt: skip


def det_noun(
    name: str, past: str, noun: Noun, plural: bool, near: bool, adjective: str = "",
    phenomenon: str = "det_noun",
) -> Pair:  # fmt: skip
    """ "Mary saw these dogs." / "Mary saw these dog.": a demonstrative agrees with its noun,
    here with an adjective between them when ``adjective`` is given."""
    det = ("these" if plural else "this") if near else ("those" if plural else "that")
    head = [name, past, det, *([adjective] if adjective else [])]
    return _pair(
        phenomenon, _num(plural), [*head, noun.form(plural)], [*head, noun.form(not plural)]
    )


def anaphor_gender(subject: str, past: str, male: bool) -> Pair:
    """ "John hurt himself." / "John hurt herself.": a reflexive agrees in gender."""
    good, bad = ("himself", "herself") if male else ("herself", "himself")
    return _pair(
        "anaphor_gender", "m" if male else "f", [subject, past, good], [subject, past, bad]
    )


def anaphor_number(noun: Noun, past: str, male: bool, plural: bool) -> Pair:
    """ "The boys hurt themselves." / "The boys hurt himself.": a reflexive agrees in number."""
    single = "himself" if male else "herself"
    good, bad = ("themselves", single) if plural else (single, "themselves")
    head = ["The", noun.form(plural), past]
    return _pair("anaphor_number", _num(plural), [*head, good], [*head, bad])


def article(phrase: str) -> str:
    """ "an" before a vowel sound, "a" otherwise, for the words ``takes_article`` admits."""
    return "an" if phrase[0].lower() in "aeio" else "a"


def takes_article(word: str) -> bool:
    """Whether the first letter of ``word`` decides its article: words starting with h, u, x,
    "eu" or "one" (an hour, a unit, a one-off) are left out rather than guessed."""
    w = word.lower()
    return bool(w) and w[0] not in "hux" and not w.startswith(("eu", "one", "once", "ewe"))


def a_an(name: str, past: str, phrase: str) -> Pair:
    """ "Mary saw an old house." / "Mary saw a old house.": the indefinite article follows the
    sound of the next word."""
    good = article(phrase)
    bad = "a" if good == "an" else "an"
    return _pair("a_an", good, [name, past, good, phrase], [name, past, bad, phrase])


# -------------------------------------------------------------------------------- samplers

Sampler = Callable[[random.Random, Lexicon], tuple[Pair, Pair]]


def _tail(rng: random.Random, lex: Lexicon) -> tuple[Verb, str]:
    """A present-tense verb and what follows it: a lexical verb and an object, or be/have."""
    kind = rng.random()
    if kind < 0.6:
        return rng.choice(lex.verbs), "the " + rng.choice(lex.nouns).sg
    if kind < 0.9:
        return rng.choice((BE, BE_PAST)), rng.choice(lex.adjectives)
    return HAVE, "the " + rng.choice(lex.nouns).sg


def _both(make: Callable[[bool], Pair]) -> tuple[Pair, Pair]:
    return make(False), make(True)


def _sva_local(rng: random.Random, lex: Lexicon) -> tuple[Pair, Pair]:
    subj, (verb, tail) = rng.choice(lex.nouns), _tail(rng, lex)
    return _both(lambda pl: sva_local(subj, verb, tail, pl))


def _sva_irregular(rng: random.Random, lex: Lexicon) -> tuple[Pair, Pair]:
    subj, (verb, tail) = rng.choice(lex.irregular_nouns), _tail(rng, lex)
    return _both(lambda pl: sva_irregular(subj, verb, tail, pl))


def _sva_pp(rng: random.Random, lex: Lexicon) -> tuple[Pair, Pair]:
    subj, attr = rng.sample(lex.nouns, 2)
    prep, (verb, tail) = rng.choice(lex.prepositions), _tail(rng, lex)
    return _both(lambda pl: sva_pp(subj, prep, attr, verb, tail, pl))


def _sva_rc(rng: random.Random, lex: Lexicon) -> tuple[Pair, Pair]:
    subj, attr = rng.sample(lex.nouns, 2)
    rc_verb, (verb, tail) = rng.choice(lex.verbs), _tail(rng, lex)
    return _both(lambda pl: sva_rc(subj, attr, rc_verb, verb, tail, pl))


def _name(rng: random.Random, lex: Lexicon) -> str:
    return rng.choice(lex.male_names + lex.female_names)


def _det(nouns_of: Callable[[Lexicon], tuple[Noun, ...]], adjective: bool, phenomenon: str):
    def sample(rng: random.Random, lex: Lexicon) -> tuple[Pair, Pair]:
        name, past, noun = _name(rng, lex), rng.choice(lex.past_verbs), rng.choice(nouns_of(lex))
        adj = rng.choice(lex.adjectives) if adjective else ""
        near = rng.random() < 0.5
        return _both(lambda pl: det_noun(name, past, noun, pl, near, adj, phenomenon))

    return sample


def _anaphor_gender(rng: random.Random, lex: Lexicon) -> tuple[Pair, Pair]:
    past = rng.choice(lex.past_verbs)
    if rng.random() < 0.5:
        male, female = rng.choice(lex.male_names), rng.choice(lex.female_names)
    else:
        male = "The " + rng.choice(lex.male_nouns).sg
        female = "The " + rng.choice(lex.female_nouns).sg
    return anaphor_gender(male, past, True), anaphor_gender(female, past, False)


def _anaphor_number(rng: random.Random, lex: Lexicon) -> tuple[Pair, Pair]:
    male = rng.random() < 0.5
    noun = rng.choice(lex.male_nouns if male else lex.female_nouns)
    past = rng.choice(lex.past_verbs)
    return _both(lambda pl: anaphor_number(noun, past, male, pl))


@cache
def _by_article(lex: Lexicon, adjectives: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(words taking "a", words taking "an") among the adjectives or the singular nouns."""
    words = lex.adjectives if adjectives else tuple(n.sg for n in lex.nouns)
    words = tuple(w for w in words if takes_article(w))
    return tuple(w for w in words if article(w) == "a"), tuple(
        w for w in words if article(w) == "an"
    )


def _a_an(rng: random.Random, lex: Lexicon) -> tuple[Pair, Pair]:
    name, past = _name(rng, lex), rng.choice(lex.past_verbs)
    use_adj = rng.random() < 0.5
    consonant, vowel = _by_article(lex, use_adj)
    noun = rng.choice(lex.nouns).sg
    phrases = [rng.choice(consonant), rng.choice(vowel)]
    if use_adj:  # an adjective needs its noun after it
        phrases = [f"{p} {noun}" for p in phrases]
    return a_an(name, past, phrases[0]), a_an(name, past, phrases[1])


@dataclass(frozen=True)
class Phenomenon:
    name: str
    sample: Sampler
    doc: str
    blimp: str  # the real BLiMP paradigm that tests the same thing ("" where none does)


PHENOMENA: dict[str, Phenomenon] = {
    p.name: p
    for p in (
        Phenomenon("sva_local", _sva_local, "subject-verb agreement, adjacent",
                   "regular_plural_subject_verb_agreement_1"),
        Phenomenon("sva_irregular", _sva_irregular, "subject-verb agreement, irregular plural",
                   "irregular_plural_subject_verb_agreement_1"),
        Phenomenon("sva_pp", _sva_pp, "subject-verb agreement across a prepositional phrase",
                   "distractor_agreement_relational_noun"),
        Phenomenon("sva_rc", _sva_rc, "subject-verb agreement across a relative clause",
                   "distractor_agreement_relative_clause"),
        Phenomenon("det_noun", _det(lambda lx: lx.nouns, False, "det_noun"),
                   "determiner-noun agreement", "determiner_noun_agreement_1"),
        Phenomenon("det_noun_adj", _det(lambda lx: lx.nouns, True, "det_noun_adj"),
                   "determiner-noun agreement across an adjective",
                   "determiner_noun_agreement_with_adjective_1"),
        Phenomenon("det_noun_irregular",
                   _det(lambda lx: lx.irregular_nouns, False, "det_noun_irregular"),
                   "determiner-noun agreement, irregular plural",
                   "determiner_noun_agreement_irregular_1"),
        Phenomenon("anaphor_gender", _anaphor_gender, "reflexive gender agreement",
                   "anaphor_gender_agreement"),
        Phenomenon("anaphor_number", _anaphor_number, "reflexive number agreement",
                   "anaphor_number_agreement"),
        Phenomenon("a_an", _a_an, "indefinite article before a vowel or consonant", ""),
    )
}  # fmt: skip
#: The phenomena whose contrast is between adjacent words: issue 6's "local agreement".
LOCAL = ("sva_local", "sva_irregular", "det_noun", "a_an")


def generate(
    phenomenon: str, n: int = DEFAULT_PAIRS, seed: int = 0, lexicon: Lexicon | None = None
) -> list[Pair]:
    """``n`` distinct minimal pairs of ``phenomenon`` (n even: couples in both directions).

    The same (phenomenon, n, seed, lexicon) always gives the same pairs. Raises VerifyError for
    an unknown phenomenon, an odd ``n`` or a lexicon too small to give ``n`` distinct pairs.
    """
    if phenomenon not in PHENOMENA:
        raise VerifyError(f"unknown phenomenon {phenomenon!r}; known: {', '.join(PHENOMENA)}")
    if n < 2 or n % 2:
        raise VerifyError(f"pairs come in couples: n must be even and >= 2, got {n}")
    lex = lexicon or brown_lexicon()
    rng = random.Random(f"genesys-blimp:{seed}:{phenomenon}")
    pairs: list[Pair] = []
    seen: set[str] = set()
    attempts = 0
    while len(pairs) < n:
        attempts += 1
        if attempts > 50 * n:
            raise VerifyError(
                f"the lexicon gives only {len(pairs)} distinct {phenomenon} pairs, not {n}"
            )
        couple = PHENOMENA[phenomenon].sample(rng, lex)
        if any(p.good in seen or p.good == p.bad for p in couple):
            continue
        seen.update(p.good for p in couple)
        pairs.extend(couple)
    return pairs
