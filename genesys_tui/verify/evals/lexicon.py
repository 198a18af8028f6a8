"""The lexicon of the BLiMP-style generator, taken from the Brown tags of the training split.

Every word a generated pair uses was tagged in the embedded corpus's train split, so a model has
seen it in training: a minimal pair then tests agreement, not an unknown word. Open classes
(nouns, verbs, adjectives) come from the tags alone; the closed lists that tags cannot give
(which nouns and names are male or female, irregular plurals) are written here and kept only
where the corpus attests both forms. No torch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from genesys_tui.errors import VerifyError

#: (singular, plural) of irregular nouns; kept where Brown tags both.
IRREGULAR_NOUNS = (
    ("man", "men"), ("woman", "women"), ("child", "children"), ("person", "people"),
    ("foot", "feet"), ("tooth", "teeth"), ("mouse", "mice"), ("ox", "oxen"),
    ("knife", "knives"), ("wife", "wives"), ("life", "lives"), ("leaf", "leaves"),
    ("wolf", "wolves"), ("shelf", "shelves"), ("thief", "thieves"), ("crisis", "crises"),
    ("analysis", "analyses"), ("phenomenon", "phenomena"), ("criterion", "criteria"),
)  # fmt: skip

#: (singular, plural) nouns of people by grammatical gender.
MALE_NOUNS = (
    ("man", "men"), ("boy", "boys"), ("father", "fathers"), ("son", "sons"),
    ("brother", "brothers"), ("husband", "husbands"), ("gentleman", "gentlemen"),
    ("king", "kings"), ("uncle", "uncles"), ("actor", "actors"), ("nephew", "nephews"),
    ("priest", "priests"),
)  # fmt: skip
FEMALE_NOUNS = (
    ("woman", "women"), ("girl", "girls"), ("mother", "mothers"), ("daughter", "daughters"),
    ("sister", "sisters"), ("wife", "wives"), ("lady", "ladies"), ("queen", "queens"),
    ("aunt", "aunts"), ("actress", "actresses"), ("niece", "nieces"), ("bride", "brides"),
)  # fmt: skip
MALE_NAMES = (
    "John", "William", "George", "James", "Thomas", "Henry", "Robert", "Charles", "Jack",
    "Mike", "Paul", "Peter", "Richard", "David", "Joseph", "Edward", "Frank", "Arthur",
)  # fmt: skip
FEMALE_NAMES = (
    "Mary", "Anne", "Jane", "Alice", "Sarah", "Emma", "Susan", "Julia", "Ann", "Kate",
    "Linda", "Laura", "Lucy", "Sally", "Barbara", "Elizabeth", "Margaret", "Martha",
)  # fmt: skip
#: Prepositions that head an attractor phrase ("the key to the cabinets").
PREPOSITIONS = ("near", "behind", "beside", "with", "of", "for", "from", "without")
#: Auxiliaries kept out of the lexical verbs: the templates use be/have explicitly.
_NOT_LEXICAL = {"be", "is", "are", "was", "were", "have", "has", "do", "does"}


@dataclass(frozen=True)
class Noun:
    """A countable noun: singular and plural form."""

    sg: str
    pl: str

    def form(self, plural: bool) -> str:
        return self.pl if plural else self.sg


@dataclass(frozen=True)
class Verb:
    """A present-tense verb: third person singular (``sg``) and plural (``pl``) form."""

    sg: str
    pl: str

    def form(self, plural: bool) -> str:
        return self.pl if plural else self.sg


@dataclass(frozen=True)
class Lexicon:
    """Words the templates draw from, most frequent first."""

    nouns: tuple[Noun, ...]  # regular count nouns, both forms tagged
    irregular_nouns: tuple[Noun, ...]
    verbs: tuple[Verb, ...]  # lexical verbs, vbz and vb forms tagged
    past_verbs: tuple[str, ...]  # past tense (vbd): the same form for every subject
    adjectives: tuple[str, ...]
    male_nouns: tuple[Noun, ...]
    female_nouns: tuple[Noun, ...]
    male_names: tuple[str, ...]
    female_names: tuple[str, ...]
    prepositions: tuple[str, ...] = PREPOSITIONS

    def check(self) -> None:
        """Raise VerifyError naming the first word class too small to generate from."""
        for name in ("nouns", "verbs", "past_verbs", "adjectives", "male_nouns",
                     "female_nouns", "male_names", "female_names", "irregular_nouns"):  # fmt: skip
            if len(getattr(self, name)) < 2:
                raise VerifyError(
                    f"the BLiMP-style lexicon has fewer than 2 {name.replace('_', ' ')}: the "
                    "tagged corpus is too small; lower min_count"
                )


def _plural_candidates(sg: str) -> tuple[str, ...]:
    out = [sg + "s", sg + "es"]
    if sg.endswith("y") and len(sg) > 1 and sg[-2] not in "aeiou":
        out.append(sg[:-1] + "ies")
    return tuple(out)


def _plain(word: str) -> bool:
    return word.isascii() and word.isalpha() and word.islower() and len(word) > 1


def build_lexicon(
    rows: Iterable[tuple[str, str, int]], min_count: int = 5, max_words: int = 400
) -> Lexicon:
    """A Lexicon from (word, Brown tag, count) rows, most frequent first.

    Open-class words need ``min_count`` tagged occurrences of every form used; the curated
    lists need two (they are short and checked by hand). At most ``max_words`` of each open
    class are kept, the most frequent, so a pair is made of words the model saw often.
    """
    counts: dict[str, dict[str, int]] = {}
    for word, tag, n in rows:
        counts.setdefault(word, {})
        counts[word][tag] = counts[word].get(tag, 0) + int(n)

    def tagged(word: str, tag: str) -> int:
        return counts.get(word, {}).get(tag, 0)

    by_count = sorted(counts, key=lambda w: -sum(counts[w].values()))
    nouns, verbs, past, adjs = [], [], [], []
    irregular_sg = {sg for sg, _ in IRREGULAR_NOUNS}
    for w in by_count:
        if not _plain(w):
            continue
        if tagged(w, "nn") >= min_count and w not in irregular_sg:
            pl = next((p for p in _plural_candidates(w) if tagged(p, "nns") >= min_count), None)
            if pl is not None:
                nouns.append(Noun(w, pl))
        if tagged(w, "vb") >= min_count and w not in _NOT_LEXICAL:
            sg = next((s for s in _plural_candidates(w) if tagged(s, "vbz") >= min_count), None)
            if sg is not None:
                verbs.append(Verb(sg, w))
        if tagged(w, "vbd") >= min_count and w not in _NOT_LEXICAL:
            past.append(w)
        if tagged(w, "jj") >= min_count:
            adjs.append(w)

    def attested(pairs: Iterable[tuple[str, str]]) -> tuple[Noun, ...]:
        return tuple(
            Noun(sg, pl) for sg, pl in pairs if tagged(sg, "nn") >= 2 and tagged(pl, "nns") >= 2
        )

    def names(words: Iterable[str]) -> tuple[str, ...]:
        return tuple(w for w in words if tagged(w, "np") >= 2)

    lex = Lexicon(
        nouns=tuple(nouns[:max_words]),
        irregular_nouns=attested(IRREGULAR_NOUNS),
        verbs=tuple(verbs[:max_words]),
        past_verbs=tuple(past[:max_words]),
        adjectives=tuple(adjs[:max_words]),
        male_nouns=attested(MALE_NOUNS),
        female_nouns=attested(FEMALE_NOUNS),
        male_names=names(MALE_NAMES),
        female_names=names(FEMALE_NAMES),
    )
    lex.check()
    return lex


@cache
def brown_lexicon() -> Lexicon:
    """The lexicon of the embedded corpus's train split."""
    from genesys_tui.verify.corpus import load_brown_lexicon

    return build_lexicon(load_brown_lexicon())
