"""Tokenizers: byte-level BPE trained on the embedded corpus's train split, and raw bytes.

Shipped in ``genesys_tui/verify/data/tokenizers/<name>.json`` (Hugging Face ``tokenizers``
format, written by ``scripts/train_tokenizers.py``):

=========  ==========  ===================================================================
name       vocab size  use
=========  ==========  ===================================================================
bytes      257         ids 0-255 are the bytes themselves, 256 is end-of-text; tiny rungs
bpe4k      4096        CPU rungs
bpe8k      8192        small GPU rungs
bpe16k     16384       larger GPU rungs
=========  ==========  ===================================================================

Every tokenizer is byte-level: any Unicode string encodes, and ``decode(encode(s)) == s``.
Each id stands for a fixed byte string (end-of-text for none), so the UTF-8 bytes a token stream
covers are a table lookup: ``token_bytes()[ids].sum()``; bits per byte follow from it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tokenizers import Tokenizer as HFTokenizer
from tokenizers import decoders, models, pre_tokenizers, trainers

from genesys_tui.errors import VerifyError

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

EOT = "<|endoftext|>"
TOKENIZER_DIR = Path(__file__).resolve().parent / "data" / "tokenizers"
VOCAB_SIZES = {"bytes": 257, "bpe4k": 4096, "bpe8k": 8192, "bpe16k": 16384}


class Tokenizer:
    """A byte-level tokenizer with an end-of-text token.

    ``encode`` treats a literal ``<|endoftext|>`` in the text as ordinary characters: only the
    data pipeline inserts end-of-text, between documents.
    """

    def __init__(self, backend: HFTokenizer, name: str, source: str = "") -> None:
        self.backend = backend
        self.backend.encode_special_tokens = True
        self.name = name
        self.source = source  # the JSON text it was loaded from, hashed into cache keys
        eot = backend.token_to_id(EOT)
        if eot is None:
            raise VerifyError(f"tokenizer {name!r} has no {EOT} token; retrain it")
        self.eot_id: int = eot
        self.vocab_size: int = backend.get_vocab_size(with_added_tokens=True)

    def __repr__(self) -> str:
        return f"Tokenizer({self.name!r}, vocab_size={self.vocab_size}, eot_id={self.eot_id})"

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (no end-of-text added)."""
        return list(self.backend.encode(text, add_special_tokens=False).ids)

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """``[encode(t) for t in texts]``, in parallel threads."""
        out = self.backend.encode_batch(list(texts), add_special_tokens=False)
        return [list(e.ids) for e in out]

    def decode(self, ids: Iterable[int]) -> str:
        """The text of ``ids``; end-of-text decodes to ``<|endoftext|>``."""
        return str(self.backend.decode(list(ids), skip_special_tokens=False))

    @cached_property
    def sha256(self) -> str:
        """Checksum of the tokenizer's JSON: part of every token-cache key."""
        text = self.source or self.backend.to_str()
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def token_bytes(self) -> np.ndarray:
        """``(vocab_size,)`` int64: the UTF-8 bytes each id decodes to; 0 for end-of-text.

        Byte-level tokens are strings over a 256-character alphabet, one character per byte, so
        a token's length in characters is its length in bytes.
        """
        table = np.zeros(self.vocab_size, dtype=np.int64)
        special = {t.content for t in self.backend.get_added_tokens_decoder().values()}
        for token, i in self.backend.get_vocab(with_added_tokens=True).items():
            table[i] = 0 if token in special else len(token)
        return table

    def as_hf(self) -> PreTrainedTokenizerFast:
        """The same tokenizer as a ``transformers.PreTrainedTokenizerFast`` (for lm-eval and
        generation); end-of-text serves as its bos, eos and unk token. It has no pad token on
        purpose: nothing in Genesys pads."""
        from transformers import PreTrainedTokenizerFast

        backend = HFTokenizer.from_str(self.backend.to_str())
        return PreTrainedTokenizerFast(
            tokenizer_object=backend, bos_token=EOT, eos_token=EOT, unk_token=EOT
        )


def available_tokenizers() -> tuple[str, ...]:
    """Names of the shipped tokenizers, smallest vocabulary first."""
    return tuple(n for n in VOCAB_SIZES if (TOKENIZER_DIR / f"{n}.json").is_file())


def load_tokenizer(name: str) -> Tokenizer:
    """A shipped tokenizer by name ("bytes", "bpe4k", "bpe8k", "bpe16k"), or any tokenizer
    JSON file by path (it must have an ``<|endoftext|>`` token)."""
    path = TOKENIZER_DIR / f"{name}.json"
    if not path.is_file():
        path = Path(name).expanduser()
        if not (path.suffix == ".json" and path.is_file()):
            raise VerifyError(
                f"unknown tokenizer {name!r}: use one of {', '.join(available_tokenizers())} "
                "or the path of a tokenizer .json file"
            )
        name = path.stem
    text = path.read_text(encoding="utf-8")
    return Tokenizer(HFTokenizer.from_str(text), name, text)


# ------------------------------------------------------------------------------------ building


def _byte_level(backend: HFTokenizer, use_regex: bool) -> None:
    # no prefix space: decode(encode(s)) must give s back exactly
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=use_regex)
    backend.decoder = decoders.ByteLevel()


def build_byte_tokenizer() -> HFTokenizer:
    """Raw bytes: id ``b`` is byte ``b`` (0-255), id 256 is end-of-text. A BPE model with no
    merges over the byte-level alphabet, so it shares the format of the trained ones."""
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    # ByteLevel maps byte b to a printable character; order our vocabulary by b itself
    char_of = _bytes_to_unicode()
    if sorted(char_of.values()) != sorted(alphabet):
        raise VerifyError("this tokenizers version has a different byte-level alphabet")
    vocab = {char_of[b]: b for b in range(256)}
    backend = HFTokenizer(models.BPE(vocab=vocab, merges=[]))
    _byte_level(backend, use_regex=False)
    backend.add_special_tokens([EOT])
    return backend


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map (the ByteLevel alphabet)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    printable += range(ord("®"), ord("ÿ") + 1)
    out: dict[int, str] = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in out:
            out[b] = chr(256 + extra)
            extra += 1
    return out


def train_bpe(texts: Iterable[str], vocab_size: int) -> HFTokenizer:
    """Train a byte-level BPE of exactly ``vocab_size`` ids (256 bytes, end-of-text at id 0,
    merges) on ``texts``, with GPT-2's pre-tokenization regex. Deterministic for given texts."""
    backend = HFTokenizer(models.BPE())
    _byte_level(backend, use_regex=True)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer=trainer)
    got = backend.get_vocab_size(with_added_tokens=True)
    if got != vocab_size:
        raise VerifyError(f"BPE training gave {got} ids, not {vocab_size}: the text is too small")
    return backend


def describe(tokenizer: Tokenizer) -> dict[str, Any]:
    """A small summary for logs and notes: name, vocabulary size, end-of-text id, checksum."""
    return {
        "name": tokenizer.name,
        "vocab_size": tokenizer.vocab_size,
        "eot_id": tokenizer.eot_id,
        "sha256": tokenizer.sha256,
    }
