"""The token cache: each split tokenized once into a packed memmap stream.

A split's documents are packed into one stream with end-of-text (EOT) before every document and
after the last one::

    EOT d0 EOT d1 EOT ... EOT d_{n-1} EOT

No padding anywhere: every token is document text or an EOT separator. The stream lives in
``<cache>/<source>-<split>-<tokenizer>-<key>/`` as

- ``tokens.bin``: the stream, raw little-endian ``uint16`` (vocabularies up to 65,536) or
  ``uint32``, read back as a ``numpy.memmap``;
- ``doc_starts.npy``: ``(n_documents,)`` int64, the index of the EOT that opens each document;
- ``token_bytes.npy``: ``(vocab_size,)`` int64, the UTF-8 bytes each id decodes to (EOT: 0);
- ``meta.json``: counts, dtype and the key.

The key hashes the corpus fingerprint (content of the split), the tokenizer's JSON and the
format version, so a changed corpus or tokenizer builds a new directory. A build writes into a
temporary directory beside the final one and renames it into place, so a reader never sees a
half-written cache and two processes building the same key at once both end up with a whole one.

The cache root is the ``cache_dir`` argument, else ``$GENESYS_CACHE/tokens``, else
``~/.cache/genesys/tokens``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genesys_tui.errors import VerifyError
from genesys_tui.verify.corpus import CorpusSource, fingerprint, load_documents
from genesys_tui.verify.tokenizer import Tokenizer, load_tokenizer

FORMAT = 1  # bump when the layout or packing rule changes: old caches are then ignored
ENCODE_BATCH = 64  # documents per tokenizer call


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """Where token caches live: ``cache_dir``, else ``$GENESYS_CACHE/tokens``, else
    ``~/.cache/genesys/tokens``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    base = os.environ.get("GENESYS_CACHE")
    root = Path(base).expanduser() if base else Path.home() / ".cache" / "genesys"
    return root / "tokens"


@dataclass(frozen=True)
class TokenSplit:
    """One split, tokenized and packed. ``tokens`` is a read-only memmap of the whole stream."""

    path: Path  # the cache directory
    split: str  # "train", "validation" or "test"
    tokenizer: str  # the tokenizer's name
    key: str  # the cache key (sha256 hex)
    tokens: np.ndarray  # (n_tokens,) uint16/uint32: EOT d0 EOT d1 ... EOT
    doc_starts: np.ndarray  # (n_documents,) int64: index of the EOT opening each document
    token_bytes: np.ndarray  # (vocab_size,) int64: UTF-8 bytes per id, 0 for EOT
    eot_id: int  # the end-of-text id
    n_bytes: int  # UTF-8 bytes of all documents of the split

    @property
    def n_tokens(self) -> int:
        """Tokens in the stream, EOT separators included."""
        return int(self.tokens.shape[0])

    @property
    def n_documents(self) -> int:
        return int(self.doc_starts.shape[0])

    @property
    def bytes_per_token(self) -> float:
        """UTF-8 bytes per token over the stream (EOT tokens count, and cover no bytes)."""
        return self.n_bytes / self.n_tokens

    def count_bytes(self, start: int = 0, stop: int | None = None) -> int:
        """UTF-8 bytes covered by ``tokens[start:stop]`` (end-of-text covers none).

        For bits per byte over a set of predicted tokens, count the bytes of the *targets*:
        ``bpb = sum(nll_nats) / (ln 2 * bytes of the target tokens)``. Over a whole split the
        targets are ``tokens[1:]``, whose bytes equal ``n_bytes``.
        """
        segment = np.asarray(self.tokens[start:stop])
        return int(self.token_bytes[segment].sum())


def packed_pieces(
    token_lists: Iterable[list[int]], eot_id: int, dtype: np.dtype
) -> Iterator[np.ndarray]:
    """The packing rule, piece by piece: ``[EOT, *d0]``, ``[EOT, *d1]``, ..., then ``[EOT]``."""
    for ids in token_lists:
        piece = np.empty(1 + len(ids), dtype=dtype)
        piece[0] = eot_id
        piece[1:] = ids
        yield piece
    yield np.asarray([eot_id], dtype=dtype)


def pack(token_lists: Iterable[list[int]], eot_id: int, dtype: np.dtype) -> np.ndarray:
    """Documents' token ids packed into one stream ``EOT d0 EOT d1 ... EOT``."""
    return np.concatenate(list(packed_pieces(token_lists, eot_id, dtype)))


def cache_key(corpus_fingerprint: str, split: str, tokenizer: Tokenizer) -> str:
    """sha256 over the split's content fingerprint, the tokenizer JSON and the format."""
    payload = json.dumps(
        {
            "format": FORMAT,
            "corpus": corpus_fingerprint,
            "split": split,
            "tokenizer": tokenizer.name,
            "tokenizer_sha256": tokenizer.sha256,
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16) if vocab_size <= 2**16 else np.dtype(np.uint32)


def _open(path: Path, key: str) -> TokenSplit | None:
    """The cache at ``path`` if it is whole and has ``key``, else None."""
    try:
        meta = json.loads((path / "meta.json").read_text())
        if meta.get("key") != key or meta.get("format") != FORMAT:
            return None
        dtype = np.dtype(meta["dtype"])
        if (path / "tokens.bin").stat().st_size != meta["n_tokens"] * dtype.itemsize:
            return None
        tokens = np.memmap(path / "tokens.bin", dtype=dtype, mode="r")
        doc_starts = np.load(path / "doc_starts.npy")
        token_bytes = np.load(path / "token_bytes.npy")
    except (OSError, ValueError, KeyError):
        return None
    return TokenSplit(
        path=path,
        split=meta["split"],
        tokenizer=meta["tokenizer"],
        key=key,
        tokens=tokens,
        doc_starts=doc_starts,
        token_bytes=token_bytes,
        eot_id=int(meta["eot_id"]),
        n_bytes=int(meta["n_bytes"]),
    )


def _encoded(tokenizer: Tokenizer, texts: list[str]) -> Iterator[list[int]]:
    for i in range(0, len(texts), ENCODE_BATCH):
        yield from tokenizer.encode_batch(texts[i : i + ENCODE_BATCH])


def _build(
    source: CorpusSource, split: str, tokenizer: Tokenizer, final: Path, key: str, rebuild: bool
) -> None:
    texts = [d.text for d in load_documents(source, split)]
    dtype = _dtype(tokenizer.vocab_size)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        doc_starts = np.empty(len(texts), dtype=np.int64)
        n_tokens = 0
        with (tmp / "tokens.bin").open("wb") as f:
            pieces = packed_pieces(_encoded(tokenizer, texts), tokenizer.eot_id, dtype)
            for i, piece in enumerate(pieces):
                if i < len(texts):
                    doc_starts[i] = n_tokens
                piece.tofile(f)
                n_tokens += len(piece)
        n_bytes = sum(len(t.encode("utf-8")) for t in texts)
        np.save(tmp / "doc_starts.npy", doc_starts)
        np.save(tmp / "token_bytes.npy", tokenizer.token_bytes())
        meta = {
            "format": FORMAT,
            "key": key,
            "split": split,
            "source": source.label(),
            "tokenizer": tokenizer.name,
            "vocab_size": tokenizer.vocab_size,
            "eot_id": tokenizer.eot_id,
            "dtype": dtype.name,
            "n_tokens": n_tokens,
            "n_documents": len(texts),
            "n_bytes": n_bytes,
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        if final.exists():
            if not rebuild and _open(final, key) is not None:
                return  # another process built the same key meanwhile: keep its copy
            shutil.rmtree(final, ignore_errors=True)  # stale, broken, or asked to rebuild
        try:
            os.replace(tmp, final)
        except OSError:  # another process renamed its whole copy into place first
            if _open(final, key) is None:
                raise
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(tmp)


def load_tokens(
    split: str,
    tokenizer: Tokenizer | str = "bpe4k",
    source: CorpusSource | None = None,
    cache_dir: str | Path | None = None,
    rebuild: bool = False,
) -> TokenSplit:
    """``split`` of ``source`` (default: the embedded corpus) tokenized with ``tokenizer``,
    from the cache, building it on first use (or when ``rebuild``).

    Raises ``VerifyError`` when the corpus cannot be read or the split is empty.
    """
    source = source or CorpusSource()
    tok = load_tokenizer(tokenizer) if isinstance(tokenizer, str) else tokenizer
    key = cache_key(fingerprint(source, split), split, tok)
    path = cache_root(cache_dir) / f"{source.label()}-{split}-{tok.name}-{key[:16]}"
    if not rebuild:
        found = _open(path, key)
        if found is not None:
            return found
    _build(source, split, tok, path, key, rebuild)
    built = _open(path, key)
    if built is None:
        raise VerifyError(f"the token cache at {path} did not read back; delete it and retry")
    return built
