"""The shipped tokenizers: exact round trips, byte accounting, end-of-text, HF wrapper."""

from __future__ import annotations

import random

import pytest

from genesys_tui.errors import VerifyError
from genesys_tui.verify.tokenizer import (
    EOT,
    VOCAB_SIZES,
    Tokenizer,
    available_tokenizers,
    load_tokenizer,
    train_bpe,
)

NAMES = list(VOCAB_SIZES)

# code point ranges that exercise every UTF-8 length, controls, combining marks and emoji
RANGES = [
    (0, 0x7F),
    (0x80, 0x7FF),
    (0x800, 0xD7FF),
    (0xE000, 0xFFFF),
    (0x10000, 0x10FFFF),
    (0x300, 0x36F),
    (0x1F300, 0x1FAFF),
]
PIECES = [
    " ",
    "  ",
    "\n",
    "\n\n",
    "\t",
    "\r\n",
    "'s",
    " the",
    "Hello",
    "world",
    EOT,
    "<|",
    "😀",
    "naïve",
    "中文",
    "\u200b",
    "\x00",
]


def random_strings(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(0, 30)):
            if rng.random() < 0.5:
                parts.append(rng.choice(PIECES))
            else:
                lo, hi = rng.choice(RANGES)
                parts.append(chr(rng.randint(lo, hi)))
        out.append("".join(parts))
    return out


@pytest.fixture(scope="module", params=NAMES)
def tok(request: pytest.FixtureRequest) -> Tokenizer:
    return load_tokenizer(request.param)


def test_every_named_tokenizer_ships() -> None:
    assert available_tokenizers() == tuple(NAMES)


def test_vocab_size_and_eot(tok: Tokenizer) -> None:
    assert tok.vocab_size == VOCAB_SIZES[tok.name]
    assert 0 <= tok.eot_id < tok.vocab_size
    assert tok.decode([tok.eot_id]) == EOT


def test_round_trip_on_random_unicode(tok: Tokenizer) -> None:
    for text in random_strings(seed=1234, n=300):
        ids = tok.encode(text)
        assert tok.decode(ids) == text
        assert all(0 <= i < tok.vocab_size for i in ids)


def test_batch_encoding_matches_single(tok: Tokenizer) -> None:
    texts = random_strings(seed=7, n=40)
    assert tok.encode_batch(texts) == [tok.encode(t) for t in texts]


def test_token_bytes_count_utf8_bytes(tok: Tokenizer) -> None:
    table = tok.token_bytes()
    assert table.shape == (tok.vocab_size,) and table[tok.eot_id] == 0
    for text in random_strings(seed=99, n=100):
        assert int(table[tok.encode(text)].sum()) == len(text.encode("utf-8"))


def test_literal_eot_in_text_is_not_a_separator(tok: Tokenizer) -> None:
    ids = tok.encode(f"one{EOT}two")
    assert tok.eot_id not in ids
    assert tok.decode(ids) == f"one{EOT}two"


def test_hf_wrapper_agrees(tok: Tokenizer) -> None:
    hf = tok.as_hf()
    text = "The quick brown fox, naïvely, jumped over 13 lazy dogs.\nNew line."
    assert hf(text)["input_ids"] == tok.encode(text)
    assert hf.eos_token_id == tok.eot_id and hf.pad_token is None
    assert hf.decode(tok.encode(text)) == text


def test_bytes_tokenizer_ids_are_the_bytes() -> None:
    tok = load_tokenizer("bytes")
    text = "Aé😀\x00\xff"
    assert tok.encode(text) == list(text.encode("utf-8"))
    assert tok.eot_id == 256


def test_larger_vocabularies_compress_more() -> None:
    text = (
        " ".join(
            random.Random(0).choice(["the cat", "sat on", "a mat", "and", "said"])
            for _ in range(300)
        )
        + " It is a truth universally acknowledged."
    )
    counts = [len(load_tokenizer(name).encode(text)) for name in NAMES]
    assert counts[0] == len(text.encode("utf-8"))
    assert counts[0] > counts[1] >= counts[2] >= counts[3]


def test_unknown_tokenizer_lists_the_known_ones() -> None:
    with pytest.raises(VerifyError, match="bpe4k"):
        load_tokenizer("gpt5")


def test_tokenizer_loads_from_a_json_path(tmp_path) -> None:
    rng = random.Random(3)
    words = ["".join(rng.choice("abcdefghij") for _ in range(rng.randint(2, 7))) for _ in range(80)]
    texts = [" ".join(rng.choice(words) for _ in range(50)) for _ in range(40)]
    backend = train_bpe([*texts, "hello world " * 20], vocab_size=300)
    path = tmp_path / "tiny.json"
    backend.save(str(path))
    tok = load_tokenizer(str(path))
    assert tok.name == "tiny" and tok.vocab_size == 300
    assert tok.decode(tok.encode("hello lowest 😀")) == "hello lowest 😀"
    assert sum(len(tok.encode(t)) for t in texts) < 0.7 * sum(len(t) for t in texts)
    with pytest.raises(VerifyError, match="too small"):
        train_bpe(["tiny text"], vocab_size=1000)
