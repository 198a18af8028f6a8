"""The TinyDB index of a designs repository: one row per design, for the dashboard's queries.

TinyDB is neither thread-safe nor atomic, so this module adds what it lacks:

- ``AtomicJSONStorage`` writes the whole database to a temporary file and renames it over the
  old one: a reader (the dashboard) sees the old file or the new one, never half of one, and a
  writer killed mid-write leaves the old file intact. Readers re-parse only when the file
  changed (its inode, size or mtime).
- One lock per index file per process (``_LOCKS``) serializes every TinyDB call, so the
  dashboard's worker threads may share an index.
- The writer batches: rows go to TinyDB's in-memory cache at once and reach the disk every
  ``flush_every`` rows or ``flush_seconds``, whichever comes first, and on ``close()``.

The index is derived data: the repository (commits + results notes) is the truth, and the
``meta`` row says which repository state the file reflects (``notes_head``, ``designs``), so a
stale index is caught up and a corrupt or missing one rebuilt, with nothing lost.

Layout: table ``designs`` (doc id = the design's ``seq``; rows are ``DesignRecord.to_dict()``)
and table ``meta`` (doc 1: ``{"format", "notes_head", "designs"}``).
"""

from __future__ import annotations

import json
import operator
import os
import threading
import time
from collections.abc import Callable, Iterable
from functools import reduce
from pathlib import Path
from typing import Any

from tinydb import TinyDB, where
from tinydb.middlewares import CachingMiddleware
from tinydb.storages import Storage
from tinydb.table import Document, Table

from genesys_tui.errors import IndexCorruptError, StoreError
from genesys_tui.store.records import DesignRecord, check_fields

INDEX_FORMAT = 1
_LOCKS: dict[str, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()


def _lock_for(path: Path) -> threading.RLock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(str(path.resolve()), threading.RLock())


class AtomicJSONStorage(Storage):
    """A TinyDB storage: whole-file JSON, written by temporary file + rename."""

    def __init__(self, path: str | Path, read_only: bool = False):
        self.path = Path(path)
        self.read_only = read_only
        self._seen: tuple[int, int, int] | None = None
        self._data: dict[str, Any] | None = None

    def read(self) -> dict[str, Any] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        sig = (st.st_ino, st.st_size, st.st_mtime_ns)
        if sig != self._seen or self._data is None:
            try:
                data = json.loads(self.path.read_bytes())
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise IndexCorruptError(
                    f"the index {self.path} is not valid JSON ({exc})"
                ) from None
            if not isinstance(data, dict):
                raise IndexCorruptError(f"the index {self.path} does not hold a JSON object")
            self._data, self._seen = data, sig
        return self._data

    def write(self, data: dict[str, Any]) -> None:
        if self.read_only:
            raise StoreError(f"the index {self.path} is open read-only")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f"{self.path.name}.tmp-{os.getpid()}")
        # json.dumps, not json.dump: only the one-shot form uses the C encoder (10x faster).
        text = json.dumps(data, separators=(",", ":"))
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, self.path)
        self._data, self._seen = None, None

    def close(self) -> None:
        pass


class DesignIndex:
    """The index file at ``path``; ``writable`` for the single writer (the loop), else a reader.

    Opening validates every row (unknown fields rejected) and raises IndexCorruptError for an
    unreadable file; a missing file opens empty with ``exists`` False. Validated records are
    cached; a reader re-validates only after the file changed. ``table`` is the TinyDB table
    for ad-hoc ``tinydb.Query`` searches (rows are ``DesignRecord.to_dict()``).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        writable: bool = False,
        flush_every: int = 256,
        flush_seconds: float = 2.0,
    ):
        self.path = Path(path)
        self.writable = writable
        self.flush_every = flush_every
        self.flush_seconds = flush_seconds
        self._lock = _lock_for(self.path)
        self._storage = AtomicJSONStorage(self.path, read_only=not writable)
        self.exists = self.path.is_file()
        if writable:
            self._remove_stale_temporaries()
            middleware = CachingMiddleware(lambda: self._storage)
            middleware.WRITE_CACHE_SIZE = 1 << 62  # we decide when to flush
            self._db = TinyDB(storage=middleware)
        else:
            self._db = TinyDB(storage=lambda: self._storage)
        # Readers must see new rows as soon as the file changes: no query cache.
        self.table: Table = self._db.table("designs", cache_size=0)
        self._meta_table: Table = self._db.table("meta", cache_size=0)
        self._pending: dict[int, dict[str, Any]] = {}  # rows not yet in TinyDB's tables
        self._records: dict[int, DesignRecord] = {}  # validated rows, by seq
        self._loaded_from: object = None  # the raw data the cache was validated from
        self._state: dict[str, Any] = {"format": INDEX_FORMAT, "notes_head": None, "designs": 0}
        self._dirty = False
        self._last_flush = time.monotonic()
        with self._lock:
            self._load()

    def _remove_stale_temporaries(self) -> None:
        # A writer killed between writing and renaming leaves its temporary file behind.
        for tmp in self.path.parent.glob(f"{self.path.name}.tmp-*"):
            tmp.unlink(missing_ok=True)

    def _load(self) -> None:
        """(Re)validate the file into the record cache, if it changed since the last time."""
        raw = self._storage.read()
        if raw is self._loaded_from and raw is not None:
            return
        raw = raw or {}
        unknown = sorted(set(raw) - {"designs", "meta"})
        if unknown:
            raise IndexCorruptError(f"the index {self.path} holds an unknown table {unknown[0]!r}")
        records: dict[int, DesignRecord] = {}
        state = dict(self._state)
        try:
            meta_rows = raw.get("meta", {})
            if meta_rows:
                meta = check_fields(
                    meta_rows.get("1"),
                    {"format": "int", "designs": "int", "notes_head": "str?"},
                    {},
                    "index meta",
                )
                if meta["format"] != INDEX_FORMAT:
                    raise StoreError(f"index format {meta['format']} is not {INDEX_FORMAT}")
                state = {"notes_head": None, **meta}
            for doc_id, row in raw.get("designs", {}).items():
                record = DesignRecord.from_dict(row, f"index row {doc_id}")
                if str(record.seq) != doc_id:
                    raise StoreError(f"index row {doc_id} holds design seq {record.seq}")
                records[record.seq] = record
        except StoreError as exc:
            raise IndexCorruptError(f"the index {self.path} is damaged: {exc}") from None
        self._records, self._state, self._loaded_from = records, state, raw

    # ---- reading ---------------------------------------------------------------------------

    @property
    def state(self) -> dict[str, Any]:
        """The repository state this index reflects: ``notes_head`` and ``designs`` (count)."""
        with self._lock:
            if not self.writable:
                self._load()
            return dict(self._state)

    def get(self, seq: int) -> DesignRecord | None:
        """The design with sequence number ``seq``, or None."""
        with self._lock:
            if not self.writable:
                self._load()
            return self._records.get(seq)

    def records(self) -> list[DesignRecord]:
        """Every design, in commit order."""
        with self._lock:
            if not self.writable:
                self._load()
            return [self._records[seq] for seq in sorted(self._records)]

    def seqs(self) -> set[int]:
        """The sequence numbers of every indexed design."""
        with self._lock:
            if not self.writable:
                self._load()
            return set(self._records)

    def where(self, predicate: Callable[[DesignRecord], bool]) -> list[DesignRecord]:
        """Designs satisfying ``predicate``, in commit order."""
        return [r for r in self.records() if predicate(r)]

    def query(self, **equals: Any) -> list[DesignRecord]:
        """Designs whose fields equal the given values (a TinyDB search), in commit order:
        ``query(status="verified", designer="offline-mutator")``."""
        bad = sorted(set(equals) - set(DesignRecord._KINDS))
        if bad or not equals:
            raise StoreError(f"query needs known fields; unknown: {bad}")
        cond = reduce(operator.and_, (where(k) == _jsonable(v) for k, v in equals.items()))
        with self._lock:
            self._apply()
            if not self.writable:
                self._load()
            seqs = sorted(doc.doc_id for doc in self.table.search(cond))
            return [self._records[s] for s in seqs if s in self._records]

    def __len__(self) -> int:
        with self._lock:
            if not self.writable:
                self._load()
            return len(self._records)

    # ---- writing ---------------------------------------------------------------------------

    def put(self, record: DesignRecord, *, notes_head: str | None, designs: int) -> None:
        """Add or replace ``record``; ``notes_head``/``designs`` describe the repository after
        it. Reaches the disk at the next flush."""
        with self._lock:
            self._require_writable()
            self._pending[record.seq] = record.to_dict()
            self._records[record.seq] = record
            self._state = {"format": INDEX_FORMAT, "notes_head": notes_head, "designs": designs}
            self._dirty = True
            if (
                len(self._pending) >= self.flush_every
                or time.monotonic() - self._last_flush >= self.flush_seconds
            ):
                self.flush()

    def put_state(self, *, notes_head: str | None, designs: int) -> None:
        """Record the repository state the index now reflects (written at the next flush)."""
        with self._lock:
            self._require_writable()
            self._state = {"format": INDEX_FORMAT, "notes_head": notes_head, "designs": designs}
            self._dirty = True

    def replace_all(
        self, records: Iterable[DesignRecord], *, notes_head: str | None, designs: int
    ) -> None:
        """Replace the whole index (a rebuild) and write it to disk now."""
        with self._lock:
            self._require_writable()
            self._pending.clear()
            self.table.truncate()
            self._records = {r.seq: r for r in records}
            self._pending = {seq: r.to_dict() for seq, r in self._records.items()}
            self._state = {"format": INDEX_FORMAT, "notes_head": notes_head, "designs": designs}
            self._dirty = True
            self.flush()

    def flush(self) -> None:
        """Write pending rows and the state to disk (one atomic file replace)."""
        with self._lock:
            if not self.writable or not self._dirty:
                return
            self._apply()
            self._meta_table.upsert(Document(dict(self._state), doc_id=1))
            self._db.storage.flush()  # type: ignore[attr-defined]
            self._dirty = False
            self.exists = True
            self._last_flush = time.monotonic()

    def _apply(self) -> None:
        # Moves pending rows into TinyDB's in-memory tables: one table rewrite per batch.
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        present = {int(i) for i in (self._db.storage.read() or {}).get("designs", {})}
        new = [Document(row, doc_id=seq) for seq, row in pending.items() if seq not in present]
        if new:
            self.table.insert_multiple(new)
        old = [seq for seq in pending if seq in present]
        if old:
            self.table.update(lambda doc: doc.update(pending[doc["seq"]]), doc_ids=old)

    def _require_writable(self) -> None:
        if not self.writable:
            raise StoreError(f"the index {self.path} is open read-only")

    def close(self) -> None:
        """Flush (writer) and release the file."""
        with self._lock:
            self.flush()
            self._db.close()


def _jsonable(value: Any) -> Any:
    # Rows hold lists where records hold tuples (parents).
    return list(value) if isinstance(value, tuple) else value
