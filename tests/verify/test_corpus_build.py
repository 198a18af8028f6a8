"""The corpus build script's parsers, on small inputs made here (the packages are not needed)."""

from __future__ import annotations

import gzip
import struct
import sys
import zlib
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import corpus_sources
import rdata_reader
from build_corpus import split_of


def xdr_int(v: int) -> bytes:
    return struct.pack(">i", v)


def xdr_char(s: str | None) -> bytes:
    if s is None:
        return xdr_int(9) + xdr_int(-1)
    raw = s.encode("utf-8")
    return xdr_int(9 | (1 << 15)) + xdr_int(len(raw)) + raw  # CHARSXP, UTF-8 flag in levels


def xdr_strsxp(values: list[str | None], names: list[str] | None = None) -> bytes:
    flags = 16 | ((1 << 9) if names else 0)
    out = xdr_int(flags) + xdr_int(len(values)) + b"".join(xdr_char(v) for v in values)
    if names:  # attributes: pairlist(names = STRSXP), tag is the symbol "names"
        out += xdr_int(2 | (1 << 10)) + xdr_int(1) + xdr_char("names")
        out += xdr_int(16) + xdr_int(len(names)) + b"".join(xdr_char(n) for n in names)
        out += xdr_int(254)
    return out


def serialized(body: bytes) -> bytes:
    return (
        b"X\n" + xdr_int(3) + xdr_int(0x040201) + xdr_int(0x030500) + xdr_int(5) + b"UTF-8" + body
    )


def test_rdata_reads_character_vectors_with_na_and_names() -> None:
    value = rdata_reader.unserialize(serialized(xdr_strsxp(["Emma", None, "é"], None)))
    assert value == ["Emma", None, "é"]
    named = rdata_reader.unserialize(serialized(xdr_strsxp(["a", "b"], ["x", "y"])))
    assert named == {"x": "a", "y": "b"}


def test_rdata_reads_a_lazy_load_database(tmp_path: Path) -> None:
    payload = serialized(xdr_strsxp(["It is a truth", "universally acknowledged"]))
    chunk = struct.pack(">I", len(payload)) + zlib.compress(payload)
    (tmp_path / "Rdata.rdb").write_bytes(chunk)
    # index: list(variables = list(book = c(offset, length)), references = list(), compressed)
    index = (
        xdr_int(19 | (1 << 9)) + xdr_int(3)
        + xdr_int(19 | (1 << 9)) + xdr_int(1)
        + xdr_int(14) + xdr_int(2) + struct.pack(">2d", 0.0, float(len(chunk)))
        + xdr_int(2 | (1 << 10)) + xdr_int(1) + xdr_char("names")
        + xdr_int(16) + xdr_int(1) + xdr_char("book") + xdr_int(254)
        + xdr_int(19) + xdr_int(0)
        + xdr_int(10) + xdr_int(1) + xdr_int(1)
        + xdr_int(2 | (1 << 10)) + xdr_int(1) + xdr_char("names")
        + xdr_int(16) + xdr_int(3) + xdr_char("variables") + xdr_char("references")
        + xdr_char("compressed") + xdr_int(254)
    )  # fmt: skip
    (tmp_path / "Rdata.rdx").write_bytes(gzip.compress(serialized(index)))
    data = rdata_reader.read_lazyload_db(tmp_path / "Rdata")
    assert data == {"book": ["It is a truth", "universally acknowledged"]}


def test_rdata_refuses_ascii_format() -> None:
    with pytest.raises(rdata_reader.RDataError, match="XDR"):
        rdata_reader.unserialize(b"A\n2\n")


def test_brown_detokenizer_joins_punctuation_and_quotes() -> None:
    raw = (
        "\n\n\tThe/at jury/nn said/vbd ``/`` no/at ''/'' ,/, to/in Mr./np Jr./np ./.\n"
        "It/pps ran/vbd (/( fast/rb )/) ./.\n\n\n\tNew/jj paragraph/nn ./.\n"
    )
    text, sentences = corpus_sources.parse_brown_file(raw)
    assert text == 'The jury said "no", to Mr. Jr. It ran (fast).\n\nNew paragraph.'
    assert sentences[0][:3] == [("The", "at"), ("jury", "nn"), ("said", "vbd")]
    assert len(sentences) == 3


def test_unwrap_and_chapter_split_keep_every_word() -> None:
    chapter = "\n".join(["word " * 12] * 60)  # ~3.6 kB of hard-wrapped prose
    book = "\n\n".join(f"CHAPTER {i}\n\n{chapter}\n\n{chapter}" for i in range(1, 4))
    pieces = corpus_sources.split_chapters(corpus_sources.unwrap(book))
    assert len(pieces) == 3 and all(p.startswith("CHAPTER") for p in pieces)
    assert sum(p.count("word") for p in pieces) == book.count("word")
    assert all("\n" not in p.split("\n\n")[1] for p in pieces)  # lines joined into paragraphs
    long = corpus_sources.split_chapters("\n\n".join(["para " * 100] * 400))
    assert len(long) > 1 and all(len(p) <= corpus_sources.MAX_DOC_CHARS * 1.1 for p in long)


def test_osis_cleaning_drops_notes_and_keeps_words_apart() -> None:
    verse = (
        '<w lemma="strong:H0430">God</w><note placement="foot">A note.</note>'
        '<w lemma="x">created</w> the <title>Heading</title>earth&amp;sky.'
        '<div type="x-p" sID="p1"/>Next<note>n</note>, paragraph.'
    )
    assert corpus_sources.clean_osis(verse) == "God created the earth&sky.\n\nNext, paragraph."


def test_sword_ztext_reader_follows_the_indexes(tmp_path: Path) -> None:
    verses = [
        "<milestone/>",
        '<div type="book"/>Preface text that is dropped.',
        '<chapter osisID="Gen.1" sID="Gen.1"/>',
        "<w>In</w> the beginning.",
        "Second verse.",
        '<chapter osisID="Gen.2" sID="Gen.2"/>',
        "Chapter two.",
        '<div type="glossary"/>Glossary, dropped.',
    ]
    block = "".join(verses).encode()
    packed = zlib.compress(block)
    offsets, pos = [], 0
    for v in verses:
        offsets.append((0, pos, len(v.encode())))
        pos += len(v.encode())
    for testament, (bzs, bzz, bzv) in {
        "ot": (struct.pack("<III", 0, len(packed), len(block)), packed,
               b"".join(struct.pack("<IIH", *o) for o in offsets)),
        "nt": (b"", b"", b""),
    }.items():  # fmt: skip
        (tmp_path / f"{testament}.bzs").write_bytes(bzs)
        (tmp_path / f"{testament}.bzz").write_bytes(bzz)
        (tmp_path / f"{testament}.bzv").write_bytes(bzv)
    chapters = corpus_sources.read_sword_ztext(tmp_path)
    assert chapters == [("Gen", 1, "In the beginning. Second verse."), ("Gen", 2, "Chapter two.")]


def test_build_split_is_a_seeded_hash_of_the_id() -> None:
    ids = [f"brown/c{i:03d}" for i in range(1000)]
    splits = [split_of(i, 0) for i in ids]
    assert splits == [split_of(i, 0) for i in ids]
    assert splits != [split_of(i, 1) for i in ids]
    assert 30 <= splits.count("validation") <= 75 and 30 <= splits.count("test") <= 75
