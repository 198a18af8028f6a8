"""A reader for R's serialization format, enough to pull character vectors out of R data.

R is not installed where the corpus is built, yet Jane Austen's novels reach us as an R package
(Debian ``r-cran-janeaustenr``) whose ``data/Rdata.rdb`` / ``Rdata.rdx`` pair is a *lazy-load
database*: the ``.rdx`` index is a gzip-compressed serialized list naming, for each dataset, a
byte range of the ``.rdb`` file; each range holds one compressed, serialized R object.

Only the XDR (big-endian binary, header ``X\\n``) format is read, versions 2 and 3. Values come
back as plain Python: a character vector is a ``list[str | None]`` (``None`` for ``NA``), numeric
vectors are lists of numbers, a generic vector (``list``) is a list, and a pairlist is a list of
``(tag, value)``. Attributes are dropped except ``names``, which turn a vector into a ``dict``.
Environments and closures are read past (their content is returned as ``None``), so an index that
mentions them still parses.

Used only by ``scripts/build_corpus.py`` at corpus-build time; the package never imports it.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import struct
import zlib
from pathlib import Path
from typing import Any

# SEXP types (R internals: Rinternals.h) and serialization pseudo-types (serialize.c).
NILSXP, SYMSXP, LISTSXP, CLOSXP, ENVSXP, PROMSXP, LANGSXP = 0, 1, 2, 3, 4, 5, 6
CHARSXP, LGLSXP, INTSXP, REALSXP, CPLXSXP, STRSXP, DOTSXP = 9, 10, 13, 14, 15, 16, 17
VECSXP, EXPRSXP, BCODESXP, EXTPTRSXP, WEAKREFSXP, RAWSXP, S4SXP = 19, 20, 21, 22, 23, 24, 25
REFSXP, NILVALUE_SXP, GLOBALENV_SXP, UNBOUNDVALUE_SXP, MISSINGARG_SXP = 255, 254, 253, 252, 251
BASENAMESPACE_SXP, NAMESPACESXP, PACKAGESXP, PERSISTSXP = 250, 249, 248, 247
EMPTYENV_SXP, BASEENV_SXP, ATTRLANGSXP, ATTRLISTSXP, ALTREP_SXP = 242, 241, 240, 239, 238

NA_INTEGER = -(2**31)
_PAIRLIKE = {LISTSXP, LANGSXP, CLOSXP, PROMSXP, DOTSXP, ATTRLANGSXP, ATTRLISTSXP}
_SINGLETONS = {
    NILVALUE_SXP,
    GLOBALENV_SXP,
    UNBOUNDVALUE_SXP,
    MISSINGARG_SXP,
    BASENAMESPACE_SXP,
    EMPTYENV_SXP,
    BASEENV_SXP,
}


class RDataError(ValueError):
    """The bytes are not an R serialization stream this reader understands."""


class _Reader:
    """Reads one XDR-serialized R object from ``data`` (already decompressed)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.refs: list[Any] = []

    def _take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise RDataError(f"truncated stream: wanted {n} bytes at offset {self.pos}")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def int(self) -> int:
        return int(struct.unpack(">i", self._take(4))[0])

    def length(self) -> int:
        n = self.int()
        if n == -1:  # long vector: two more ints, upper and lower halves
            upper, lower = self.int(), self.int()
            n = (upper << 32) + (lower & 0xFFFFFFFF)
        return n

    def header(self) -> None:
        fmt = self._take(2)
        if fmt != b"X\n":
            raise RDataError(f"only XDR serialization is supported, got format {fmt!r}")
        version = self.int()
        self.int()  # writer's R version
        self.int()  # minimal reader's R version
        if version == 3:
            self._take(self.int())  # native encoding name
        elif version != 2:
            raise RDataError(f"unsupported serialization version {version}")

    def item(self) -> Any:
        flags = self.int()
        kind = flags & 0xFF
        has_attr = bool(flags & (1 << 9))
        has_tag = bool(flags & (1 << 10))
        if kind in _SINGLETONS:
            return None
        if kind == REFSXP:
            index = flags >> 8 or self.int()
            return self.refs[index - 1]
        if kind in (PERSISTSXP, PACKAGESXP, NAMESPACESXP):
            self.item()  # a STRSXP naming the thing
            self.refs.append(None)
            return None
        if kind == SYMSXP:
            name = self.item()
            self.refs.append(name)
            return name
        if kind == ENVSXP:
            self.int()  # locked
            self.refs.append(None)
            for _ in range(4):  # enclosure, frame, hash table, attributes
                self.item()
            return None
        if kind in _PAIRLIKE:
            return self._pairlist(kind, has_attr, has_tag)
        if kind == ALTREP_SXP:
            return self._altrep()
        if kind == CHARSXP:
            return self._charsxp(flags)
        value = self._vector(kind)
        if has_attr:
            attrs = dict(self.item() or [])
            names = attrs.get("names")
            if isinstance(value, list) and isinstance(names, list) and len(names) == len(value):
                return dict(zip(names, value, strict=True))
        return value

    def _pairlist(self, kind: int, has_attr: bool, has_tag: bool) -> Any:
        out: list[tuple[Any, Any]] = []
        while True:
            if has_attr:
                self.item()
            tag = self.item() if has_tag else None
            out.append((tag, self.item()))
            if kind not in (LISTSXP, ATTRLISTSXP):
                self.item()  # the rest of a call, closure or promise: not needed here
                return None
            # the cdr of a pairlist is read iteratively, so long lists do not recurse
            flags = self.int()
            kind = flags & 0xFF
            if kind == NILVALUE_SXP:
                return out
            if kind not in (LISTSXP, ATTRLISTSXP):
                raise RDataError(f"pairlist tail of type {kind} is not supported")
            has_attr = bool(flags & (1 << 9))
            has_tag = bool(flags & (1 << 10))

    def _altrep(self) -> Any:
        info = self.item()  # pairlist: class symbol, package symbol, type
        state = self.item()
        self.item()  # attributes
        cls = info[0][1] if info else None
        if cls == "compact_intseq":  # state: c(length, start, step) as doubles
            n, start, step = (int(v) for v in state)
            return [start + i * step for i in range(n)]
        if cls == "compact_realseq":
            n, start, step = state
            return [start + i * step for i in range(int(n))]
        if cls in ("wrap_string", "wrap_integer", "wrap_real", "wrap_logical", "wrap_list"):
            return state[0][1] if isinstance(state, list) and state else state
        if cls == "deferred_string":  # state: pairlist(original vector, info)
            original = state[0][1]
            return [None if v is None else _format_number(v) for v in original]
        raise RDataError(f"ALTREP class {cls!r} is not supported")

    def _charsxp(self, flags: int) -> str | None:
        n = self.int()
        if n == -1:
            return None
        raw = self._take(n)
        latin1 = bool((flags >> 12) & (1 << 2))
        return raw.decode("latin-1" if latin1 else "utf-8")

    def _vector(self, kind: int) -> Any:
        if kind == STRSXP:
            return [self.item() for _ in range(self.length())]
        if kind in (VECSXP, EXPRSXP):
            return [self.item() for _ in range(self.length())]
        if kind in (LGLSXP, INTSXP):
            n = self.length()
            values = struct.unpack(f">{n}i", self._take(4 * n))
            return [None if v == NA_INTEGER else v for v in values]
        if kind == REALSXP:
            n = self.length()
            return list(struct.unpack(f">{n}d", self._take(8 * n)))
        if kind == CPLXSXP:
            n = self.length()
            parts = struct.unpack(f">{2 * n}d", self._take(16 * n))
            return [complex(parts[i], parts[i + 1]) for i in range(0, 2 * n, 2)]
        if kind == RAWSXP:
            return self._take(self.length())
        raise RDataError(f"SEXP type {kind} is not supported")


def _format_number(value: float | int) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def unserialize(data: bytes) -> Any:
    """Decode one serialized R object (``serialize()`` / ``saveRDS()`` output, uncompressed)."""
    reader = _Reader(data)
    reader.header()
    return reader.item()


def _decompress_lazyload_chunk(chunk: bytes) -> bytes:
    """Undo R's ``R_compress1/2/3``: 4-byte big-endian length, then (a type byte and) data."""
    size = struct.unpack(">I", chunk[:4])[0]
    body = chunk[4:]
    if body[:1] in (b"Z", b"2", b"1", b"0") and len(body) > 1:
        kind, payload = body[:1], body[1:]
        if kind == b"Z":
            out = lzma.decompress(payload)
        elif kind == b"2":
            out = bz2.decompress(payload)
        elif kind == b"1":
            out = zlib.decompress(payload)
        else:
            out = payload
    else:
        out = zlib.decompress(body)
    if len(out) != size:
        raise RDataError(f"lazy-load chunk decompressed to {len(out)} bytes, header says {size}")
    return out


def read_rds(path: Path) -> Any:
    """Read an ``.rds``-style file: gzip, bzip2, xz or uncompressed serialization."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    elif raw[:3] == b"BZh":
        raw = bz2.decompress(raw)
    elif raw[:6] == b"\xfd7zXZ\x00":
        raw = lzma.decompress(raw)
    return unserialize(raw)


def read_lazyload_db(stem: Path) -> dict[str, Any]:
    """Read every variable of a lazy-load database ``<stem>.rdx`` + ``<stem>.rdb``.

    Returns ``{variable name: value}``. Raises ``RDataError`` when the files are not a lazy-load
    database in XDR format.
    """
    index = read_rds(stem.with_suffix(".rdx"))
    if not isinstance(index, dict) or "variables" not in index:
        raise RDataError(f"{stem}.rdx is not a lazy-load index (no 'variables')")
    rdb = stem.with_suffix(".rdb").read_bytes()
    out: dict[str, Any] = {}
    for name, (offset, length) in index["variables"].items():
        chunk = rdb[int(offset) : int(offset) + int(length)]
        out[name] = unserialize(_decompress_lazyload_chunk(chunk))
    return out
