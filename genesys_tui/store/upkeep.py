"""The index's upkeep: keeping a repository's TinyDB index in step with the repository.

The index (``index.py``) is derived data, so opening a repository compares the index's state
(``designs``, ``notes_head``) with the repository's and brings a stale, missing or corrupt index
up to date, losing nothing:

- the writer catches up, re-reading only the designs the index lacks and those whose results
  changed since the notes head it reflects, or rebuilds the index from the repository alone
  (``scan.py``) when that is cheaper or the notes history was rewritten;
- a reader leaves a lagging index to a running writer (which flushes in batches, so a lag is
  normal) and, with no writer running, opens the repository as the writer for a moment to bring
  the index up to date itself;
- a corrupt index is moved aside (``index.corrupt-<time>.json``), never deleted.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from genesys_tui.errors import IndexCorruptError, StoreError
from genesys_tui.store.index import DesignIndex
from genesys_tui.store.lock import WriterLock
from genesys_tui.store.notes import Notes
from genesys_tui.store.scan import read_commits, record_of, scan_records, seq_of


class Repository(Protocol):
    """What the upkeep reads of the repository whose index it keeps (``repo.DesignsRepo``)."""

    @property
    def path(self) -> Path: ...
    @property
    def git_dir(self) -> Path: ...
    @property
    def index_path(self) -> Path: ...
    @property
    def writable(self) -> bool: ...
    @property
    def notes(self) -> Notes: ...
    @property
    def notices(self) -> list[str]: ...


#: Opens the same repository as the writer, for a moment (a context manager).
OpenWriter = Callable[[], AbstractContextManager[Any]]


def open_index(
    repo: Repository, tags: Mapping[str, str], flush_every: int, open_writer: OpenWriter
) -> DesignIndex:
    """Open ``repo``'s index, up to date with ``tags`` (design id -> commit) and the notes head.

    What a person should hear about (a rebuilt index) is appended to ``repo.notices``.
    ``open_writer`` opens the repository as the writer, for a reader that finds the index stale
    with no writer running. StoreError when a reader finds the index corrupt while a writer
    runs.
    """
    try:
        index = DesignIndex(repo.index_path, writable=repo.writable, flush_every=flush_every)
    except IndexCorruptError as exc:
        aside = repo.index_path.with_name(f"index.corrupt-{int(time.time())}.json")
        repo.notices.append(
            f"{exc}; moved it to {aside.name} and rebuilt the index from "
            "the repository (nothing is lost)"
        )
        if not repo.writable and WriterLock(repo.git_dir).is_held():
            raise StoreError(
                f"{exc}; the running writer keeps it until it stops; then any "
                "genesys command rebuilds it from the repository"
            ) from None
        os.replace(repo.index_path, aside)
        return _refresh(repo, tags, None, flush_every, open_writer)
    if not index.exists and tags:
        repo.notices.append(f"no index at {repo.index_path}; rebuilt it from the repository")
        return _refresh(repo, tags, index, flush_every, open_writer)
    state = index.state
    if state["designs"] != len(tags) or state["notes_head"] != repo.notes.head:
        return _refresh(repo, tags, index, flush_every, open_writer)
    return index


def _refresh(
    repo: Repository,
    tags: Mapping[str, str],
    index: DesignIndex | None,
    flush_every: int,
    open_writer: OpenWriter,
) -> DesignIndex:
    """Bring a missing, stale or corrupt index up to date with the repository."""
    if repo.writable:
        assert index is not None or not repo.index_path.exists()
        if index is None:
            index = DesignIndex(repo.index_path, writable=True, flush_every=flush_every)
        catch_up(index, repo.git_dir, repo.notes, tags)
        return index
    if WriterLock(repo.git_dir).is_held():
        # The writer flushes in batches: a lagging index is normal, the writer catches up.
        if index is None:
            repo.notices.append(
                "the index is being rebuilt by the writer; showing the "
                "repository state read directly"
            )
        return index if index is not None else DesignIndex(repo.index_path)
    if index is not None:
        index.close()
    with open_writer() as writer:
        repo.notices.extend(n for n in writer.notices if n not in repo.notices)
    return DesignIndex(repo.index_path)


def catch_up(index: DesignIndex, git_dir: Path, notes: Notes, tags: Mapping[str, str]) -> None:
    """Bring the writable ``index`` up to date with the repository: re-read the designs it
    lacks and those whose results changed, or rebuild it when that is cheaper."""
    state = index.state
    known = index.seqs() if index.exists else set()
    changed = notes.commits_since(state["notes_head"]) if index.exists else None
    if changed is None or len(changed) + len(tags) - len(known) > 2000:
        rebuild(index, git_dir)
        return
    todo = changed & set(tags.values())
    todo |= {sha for i, sha in tags.items() if seq_of(i) not in known}
    for design in read_commits(git_dir, ["--no-walk", *sorted(todo)]) if todo else []:
        index.put(
            record_of(design, notes.read(design.commit)),
            notes_head=notes.head,
            designs=len(tags),
        )
    index.put_state(notes_head=notes.head, designs=len(tags))
    index.flush()


def rebuild(index: DesignIndex, git_dir: Path) -> int:
    """Replace the writable ``index`` with rows read from the repository alone; return the
    number of designs."""
    records, head = scan_records(git_dir)
    index.replace_all(records, notes_head=head, designs=len(records))
    return len(records)
