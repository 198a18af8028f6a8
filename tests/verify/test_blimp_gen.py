"""The BLiMP-style generator: each template gives the hand-checked pair, every contrast comes in
both directions, pairs are seeded and distinct, and their words come from the corpus's tags."""

from __future__ import annotations

import pytest

from genesys_tui.errors import VerifyError
from genesys_tui.verify.evals import blimp_gen as g
from genesys_tui.verify.evals.lexicon import Lexicon, Noun, Verb, brown_lexicon, build_lexicon

DOG, CAT, CHILD = Noun("dog", "dogs"), Noun("cat", "cats"), Noun("child", "children")
CHASE = Verb("chases", "chase")

HAND_CHECKED = [
    (g.sva_local(DOG, CHASE, "the ball", False),
     "The dog chases the ball.", "The dog chase the ball."),
    (g.sva_local(DOG, CHASE, "the ball", True),
     "The dogs chase the ball.", "The dogs chases the ball."),
    (g.sva_local(DOG, g.BE, "old", True), "The dogs are old.", "The dogs is old."),
    (g.sva_irregular(CHILD, g.BE_PAST, "happy", True),
     "The children were happy.", "The children was happy."),
    (g.sva_pp(DOG, "near", CAT, g.BE, "old", False),
     "The dog near the cats is old.", "The dog near the cats are old."),
    (g.sva_pp(DOG, "near", CAT, g.HAVE, "the ball", True),
     "The dogs near the cat have the ball.", "The dogs near the cat has the ball."),
    (g.sva_rc(DOG, CAT, CHASE, g.BE, "old", False),
     "The dog that the cats chase is old.", "The dog that the cats chase are old."),
    (g.sva_rc(DOG, CAT, CHASE, g.BE, "old", True),
     "The dogs that the cat chases are old.", "The dogs that the cat chases is old."),
    (g.det_noun("Mary", "saw", DOG, False, True), "Mary saw this dog.", "Mary saw this dogs."),
    (g.det_noun("Mary", "saw", DOG, True, False), "Mary saw those dogs.", "Mary saw those dog."),
    (g.det_noun("Mary", "saw", CHILD, True, True, "small"),
     "Mary saw these small children.", "Mary saw these small child."),
    (g.anaphor_gender("John", "hurt", True), "John hurt himself.", "John hurt herself."),
    (g.anaphor_gender("The queen", "hurt", False),
     "The queen hurt herself.", "The queen hurt himself."),
    (g.anaphor_number(Noun("boy", "boys"), "hurt", True, True),
     "The boys hurt themselves.", "The boys hurt himself."),
    (g.anaphor_number(Noun("girl", "girls"), "hurt", False, False),
     "The girl hurt herself.", "The girl hurt themselves."),
    (g.a_an("Mary", "saw", "old house"), "Mary saw an old house.", "Mary saw a old house."),
    (g.a_an("Mary", "saw", "dog"), "Mary saw a dog.", "Mary saw an dog."),
]  # fmt: skip


@pytest.mark.parametrize(
    ("pair", "good", "bad"),
    HAND_CHECKED,
    ids=[f"{p.phenomenon}-{p.good}" for p, _, _ in HAND_CHECKED],
)
def test_template_gives_the_hand_checked_pair(pair: g.Pair, good: str, bad: str):
    assert (pair.good, pair.bad) == (good, bad)


@pytest.mark.parametrize("word", ["hour", "unit", "one", "euro", "xylophone"])
def test_words_whose_article_the_spelling_does_not_decide_are_left_out(word: str):
    assert not g.takes_article(word)


@pytest.mark.parametrize("phenomenon", list(g.PHENOMENA))
def test_pairs_come_in_couples_of_both_directions(phenomenon: str):
    pairs = g.generate(phenomenon, 200, seed=3)
    assert len(pairs) == 200 and len({p.good for p in pairs}) == 200
    for first, second in zip(pairs[::2], pairs[1::2], strict=True):
        assert first.direction != second.direction
    directions = [p.direction for p in pairs]
    assert len(set(directions)) == 2
    assert directions.count(directions[0]) == 100  # balanced: a preference for a form cancels
    for p in pairs:  # a minimal pair: the same length, one word apart
        good, bad = p.good.split(), p.bad.split()
        assert len(good) == len(bad)
        assert sum(a != b for a, b in zip(good, bad, strict=True)) == 1


@pytest.mark.parametrize("phenomenon", ["sva_rc", "det_noun_adj", "a_an"])
def test_generation_is_seeded(phenomenon: str):
    assert g.generate(phenomenon, 50, seed=1) == g.generate(phenomenon, 50, seed=1)
    assert g.generate(phenomenon, 50, seed=1) != g.generate(phenomenon, 50, seed=2)


def test_words_are_tagged_in_the_training_split():
    from genesys_tui.verify.corpus import load_brown_lexicon

    tagged = {w for w, _, _ in load_brown_lexicon()}
    lex = brown_lexicon()
    for pair in g.generate("sva_pp", 200) + g.generate("det_noun_adj", 200):
        for word in pair.good.rstrip(".").split() + pair.bad.rstrip(".").split():
            assert word in tagged or word == "The", word
    assert len(lex.nouns) > 100 and len(lex.verbs) > 50


def test_lexicon_keeps_only_attested_forms():
    rows = [
        ("dog", "nn", 9), ("dogs", "nns", 9), ("cat", "nn", 9),  # cat has no plural
        ("run", "vb", 9), ("runs", "vbz", 9), ("walk", "vb", 9), ("walks", "vbz", 1),
        ("box", "nn", 9), ("boxes", "nns", 9), ("saw", "vbd", 9), ("ran", "vbd", 9),
        ("old", "jj", 9), ("red", "jj", 9), ("man", "nn", 9), ("men", "nns", 9),
        ("woman", "nn", 9), ("women", "nns", 9), ("boy", "nn", 9), ("boys", "nns", 9),
        ("girl", "nn", 9), ("girls", "nns", 9), ("child", "nn", 3), ("children", "nns", 3),
        ("John", "np", 3), ("Jack", "np", 3), ("Mary", "np", 3), ("Anne", "np", 3),
        ("sees", "vbz", 9), ("see", "vb", 9),
    ]  # fmt: skip
    lex = build_lexicon(rows)
    assert lex.nouns == (Noun("dog", "dogs"), Noun("box", "boxes"), Noun("boy", "boys"),
                         Noun("girl", "girls"))  # fmt: skip
    assert lex.verbs == (Verb("runs", "run"), Verb("sees", "see"))
    assert lex.irregular_nouns == (Noun("man", "men"), Noun("woman", "women"),
                                   Noun("child", "children"))  # fmt: skip


def test_too_small_a_lexicon_is_refused():
    with pytest.raises(VerifyError, match="fewer than 2 nouns"):
        build_lexicon([("dog", "nn", 9), ("dogs", "nns", 9)])


def test_bad_requests_are_refused():
    with pytest.raises(VerifyError, match="unknown phenomenon"):
        g.generate("island_effects", 10)
    with pytest.raises(VerifyError, match="even"):
        g.generate("sva_local", 11)


def test_a_lexicon_too_small_for_n_distinct_pairs_says_so():
    lex = brown_lexicon()
    tiny = Lexicon(**{**lex.__dict__, "irregular_nouns": lex.irregular_nouns[:2],
                      "past_verbs": lex.past_verbs[:2], "male_names": lex.male_names[:2],
                      "female_names": lex.female_names[:2]})  # fmt: skip
    with pytest.raises(VerifyError, match="distinct"):
        g.generate("det_noun_irregular", 1000, lexicon=tiny)
