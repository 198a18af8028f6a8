"""Tokenize-once cache: packing without padding, byte accounting, keys and atomic rebuilds."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from genesys_tui.verify import token_cache
from genesys_tui.verify.corpus import SPLITS, CorpusSource, embedded_manifest, load_documents
from genesys_tui.verify.token_cache import cache_key, cache_root, load_tokens, pack
from genesys_tui.verify.tokenizer import EOT, load_tokenizer

from .conftest import write_text_corpus


@pytest.fixture
def files_source(tmp_path: Path) -> CorpusSource:
    root = write_text_corpus(tmp_path / "texts")
    return CorpusSource(kind="files", path=str(root), heldout_fraction=0.2)


def test_pack_puts_eot_around_every_document_and_nothing_else() -> None:
    docs = [[5, 6, 7], [8], [], [9, 9]]
    stream = pack(docs, eot_id=0, dtype=np.dtype(np.uint16))
    assert stream.tolist() == [0, 5, 6, 7, 0, 8, 0, 0, 9, 9, 0]
    assert len(stream) == sum(map(len, docs)) + len(docs) + 1


@pytest.mark.parametrize("name", ["bytes", "bpe4k"])
def test_cached_stream_is_the_documents_joined_by_eot(
    files_source: CorpusSource, name: str
) -> None:
    split = load_tokens("train", name, files_source)
    tok = load_tokenizer(name)
    docs = load_documents(files_source, "train")
    # no padding: decoding the whole stream gives back exactly the documents and separators
    assert tok.decode(split.tokens.tolist()) == EOT + EOT.join(d.text for d in docs) + EOT
    assert split.n_documents == len(docs)
    assert (split.tokens[split.doc_starts] == tok.eot_id).all()
    assert int((np.asarray(split.tokens) == tok.eot_id).sum()) == len(docs) + 1
    assert split.n_bytes == sum(len(d.text.encode("utf-8")) for d in docs)
    assert split.count_bytes(1) == split.count_bytes() == split.n_bytes
    first = split.doc_starts[1]
    assert split.count_bytes(0, first) == len(docs[0].text.encode("utf-8"))
    assert split.tokens.dtype == np.uint16


def test_second_load_reuses_the_cache(
    files_source: CorpusSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = load_tokens("validation", "bytes", files_source)

    def no_tokenizing(*args: object) -> None:
        raise AssertionError("the cache was rebuilt")

    monkeypatch.setattr(token_cache, "_build", no_tokenizing)
    again = load_tokens("validation", "bytes", files_source)
    assert again.path == first.path and again.key == first.key
    assert np.array_equal(again.tokens, first.tokens)


def test_changed_corpus_builds_a_new_cache(files_source: CorpusSource) -> None:
    before = load_tokens("train", "bytes", files_source)
    doc = next(Path(files_source.path).rglob("*.txt"))
    doc.write_text(doc.read_text() + " One more sentence.")
    after = load_tokens("train", "bytes", files_source)
    assert after.key != before.key and after.path != before.path
    if doc.relative_to(files_source.path).as_posix() in {
        d.id for d in load_documents(files_source, "train")
    }:
        assert after.n_bytes == before.n_bytes + len(" One more sentence.")


def test_changed_tokenizer_changes_the_key(tmp_path: Path) -> None:
    bpe = load_tokenizer("bpe4k")
    edited = tmp_path / "bpe4k.json"
    edited.write_text(bpe.source + "\n")  # same tokenizer, other bytes: a new key all the same
    other = load_tokenizer(str(edited))
    assert other.name == bpe.name
    assert cache_key("c", "train", bpe) != cache_key("c", "train", other)
    assert cache_key("c", "train", bpe) != cache_key("d", "train", bpe)
    assert cache_key("c", "train", bpe) == cache_key("c", "train", load_tokenizer("bpe4k"))


def test_broken_cache_is_rebuilt_and_no_temporary_is_left(files_source: CorpusSource) -> None:
    split = load_tokens("train", "bytes", files_source)
    expected = np.array(split.tokens)
    with (split.path / "tokens.bin").open("r+b") as f:
        f.truncate(10)
    rebuilt = load_tokens("train", "bytes", files_source)
    assert np.array_equal(rebuilt.tokens, expected)
    assert [p.name for p in split.path.parent.iterdir() if p.name.startswith(".")] == []


def test_cache_root_follows_argument_then_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cache_root(tmp_path / "x") == tmp_path / "x"
    monkeypatch.setenv("GENESYS_CACHE", str(tmp_path / "g"))
    assert cache_root() == tmp_path / "g" / "tokens"
    monkeypatch.delenv("GENESYS_CACHE")
    assert cache_root() == Path.home() / ".cache" / "genesys" / "tokens"


def test_explicit_cache_dir_is_used(files_source: CorpusSource, tmp_path: Path) -> None:
    split = load_tokens("test", "bytes", files_source, cache_dir=tmp_path / "mine")
    assert split.path.parent == tmp_path / "mine"
    assert os.listdir(tmp_path / "mine") == [split.path.name]


def test_embedded_validation_bytes_match_the_manifest() -> None:
    split = load_tokens("validation", "bpe4k")
    assert split.n_bytes == embedded_manifest()["splits"]["validation"]["bytes"]
    assert split.count_bytes(1) == split.n_bytes
    assert 3.0 < split.bytes_per_token < 4.5
    assert split.n_documents == embedded_manifest()["splits"]["validation"]["documents"]
    assert set(SPLITS) >= {split.split}
