"""The designs repository: one git repository per evolution run (a namespace).

Every design is one commit whose tree is the design directory and whose parents are the parent
designs' commits (none for a seed or a design from scratch, one for a mutation, two or more for a
crossover, which is then a merge commit). A lightweight tag named by the design id (``gpt-12``)
keeps every design reachable, so ``git gc`` never prunes one and ``git checkout gpt-12``,
``git diff gpt-3 gpt-12`` and ``git log --graph --all`` work as people expect. Results attach
later as notes (``notes.py``) and are mirrored in a TinyDB index (``index.py``) that can always be
rebuilt from the repository (``upkeep.py``).

Single writer: the evolution loop opens the repository with ``writer=True``, which takes the
namespace's writer lock (``lock.py``); the dashboard and the CLI open it read-only and may do so
while the writer runs. The writer packs the repository as designs accumulate (``packing.py``).
The work tree shows the latest design (detached HEAD), updated when the writer closes, so ``ls``
and ``git log --graph`` in it are meaningful.

``DesignsRepo`` is the whole interface; the modules named above are its parts. Design ids and
namespace paths are in ``names.py``, resolving a design's name to its tag in ``tags.py``, a
design's files on their way in and out in ``files.py``.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from genesys_tui.design import DESIGN_FILE, Design, design_from_dict
from genesys_tui.errors import StoreError
from genesys_tui.store import upkeep
from genesys_tui.store.files import DesignSource, collect_files, design_json, read_commit_files
from genesys_tui.store.index import DesignIndex
from genesys_tui.store.library import import_library
from genesys_tui.store.lock import WriterLock
from genesys_tui.store.message import CommitMessage
from genesys_tui.store.names import designs_root, namespace_path, slug
from genesys_tui.store.notes import NOTES_REF, Notes
from genesys_tui.store.objects import EMPTY_TREE, ObjectWriter, Person, check_ref_part
from genesys_tui.store.packing import PACK_EVERY, Packer
from genesys_tui.store.records import DesignRecord
from genesys_tui.store.scan import (
    TAG_PREFIX,
    DesignCommit,
    read_commit,
    read_commits,
    record_of,
    seq_of,
)
from genesys_tui.store.tags import match_tags, read_tags

__all__ = [
    "COMMITTER",
    "PACK_EVERY",
    "DesignSource",
    "DesignsRepo",
    "designs_root",
    "namespace_path",
    "slug",
]

COMMITTER = ("genesys", "genesys@localhost")


class DesignsRepo:
    """A designs repository; use ``DesignsRepo.open`` (or ``create``) and ``close()``."""

    def __init__(self, path: Path, *, writer: bool, flush_every: int = 256):
        self.path = path
        self.git_dir = path / ".git"
        self.namespace = path.name
        self.writable = writer
        self.notices: list[str] = []  # things a person should hear about (index rebuilt, ...)
        self._meta = self.git_dir / "genesys"
        self._meta.mkdir(exist_ok=True)
        self._lock = WriterLock(self.git_dir)
        self._objects = ObjectWriter(self.git_dir)
        if writer:
            self._lock.acquire(self.namespace)
        self.notes = Notes(self.git_dir, self._objects if writer else None)
        self._tags = read_tags(self.git_dir)
        self._next_seq = max((seq_of(i) for i in self._tags), default=0) + 1
        self._latest: str | None = None
        self.pack_every = PACK_EVERY
        self._packer = Packer(self.git_dir)
        self.index = upkeep.open_index(
            self,
            self._tags,
            flush_every,
            lambda: DesignsRepo(path, writer=True, flush_every=flush_every),
        )

    # ---- opening and closing ----------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        writer: bool = False,
        create: bool = False,
        seeds: bool = True,
        flush_every: int = 256,
    ) -> DesignsRepo:
        """Open the repository at ``path``; with ``create``, make it (and import the library
        seeds as root commits, unless ``seeds`` is False) when it does not exist yet."""
        p = Path(path)
        if not (p / ".git").is_dir():
            if not create:
                raise StoreError(
                    f"no designs repository at {p} (a namespace is created by "
                    "`genesys evolve --namespace NS`, or DesignsRepo.create)"
                )
            return cls.create(p, seeds=seeds, flush_every=flush_every)
        return cls(p, writer=writer or create, flush_every=flush_every)

    @classmethod
    def create(cls, path: str | Path, *, seeds: bool = True, flush_every: int = 256) -> DesignsRepo:
        """Make a new repository at ``path`` and open it as the writer."""
        p = Path(path)
        if (p / ".git").exists():
            raise StoreError(f"{p} already holds a repository; open it instead")
        p.mkdir(parents=True, exist_ok=True)
        import git  # GitPython, imported here: the read-only commands start faster without it

        raw = git.Repo.init(p)
        with raw.config_writer() as cfg:
            # Plain `git log` in the repository then shows each design's results.
            cfg.set_value("notes", "displayRef", NOTES_REF)
        raw.close()
        (p / ".git" / "description").write_text(f"Genesys designs: namespace {p.name}\n")
        repo = cls(p, writer=True, flush_every=flush_every)
        if seeds:
            import_library(repo)
            repo.sync_worktree()
        repo.index.flush()
        return repo

    def close(self) -> None:
        """Flush the index, pack, update the work tree (writer) and release the writer lock."""
        if self.writable and self._latest is not None:
            self.sync_worktree()
        if self.writable and self._packer.unpacked >= 100:
            self.pack()
        else:
            self._packer.wait()
        self.index.close()
        self._lock.release()

    def __enter__(self) -> DesignsRepo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def pack(self, *, wait: bool = True) -> None:
        """Move loose objects and refs into packs (``git pack-refs --all``, ``git repack -d``).

        Safe while readers run and, with ``wait=False``, while this writer goes on committing:
        git only packs what exists when it starts, and our ref updates take git's ref locks.
        """
        self._packer.start()
        if wait:
            self._packer.wait()

    # ---- the index ---------------------------------------------------------------------------

    @property
    def index_path(self) -> Path:
        return self._meta / "index.json"

    def rebuild_index(self, index: DesignIndex | None = None) -> int:
        """Regenerate the index from the repository alone; return the number of designs."""
        if not self.writable:
            raise StoreError(
                "rebuilding the index needs the writer; open the repository with "
                "writer=True (no evolution may be running on this namespace)"
            )
        return upkeep.rebuild(index if index is not None else self.index, self.git_dir)

    # ---- writing designs -----------------------------------------------------------------------

    def commit_design(
        self,
        design: DesignSource,
        *,
        parents: Sequence[str] = (),
        designer: str,
        title: str,
        summary: str = "",
        cost_usd: float = 0.0,
        status: str = "proposed",
        reason: str | None = None,
        origin: str | None = None,
        name: str | None = None,
    ) -> DesignRecord:
        """Commit one design and index it; return its record.

        ``design``: a design directory, or a mapping of relative path -> text. ``parents``:
        design ids (or numbers). ``status``: "proposed" for a design that loads (validated here;
        DesignError otherwise), or "rejected"/"failed" with a ``reason`` for one that does not
        (committed as it is, so nothing that cost compute is lost). ``origin``: "seed" for a
        library import; otherwise it follows from the number of parents.
        """
        self._require_writer()
        files = collect_files(design)
        data = design_json(files)
        if status == "proposed":
            sources = {k: v.decode("utf-8") for k, v in files.items() if k.endswith(".py")}
            loaded = design_from_dict(data, sources, name or "<design>")
            # One serialisation for every design (seeds as written by hand, children as made
            # by a designer), so `git diff parent child` shows only what the mutation changed.
            files[DESIGN_FILE] = loaded.to_json().encode("utf-8")
        elif reason is None:
            raise StoreError(f"a design committed with status {status!r} needs a reason")
        name = name or (data.get("name") if isinstance(data, dict) else None) or "unnamed"
        parent_ids = [self.get(p).id for p in parents]
        if len(set(parent_ids)) != len(parent_ids):
            raise StoreError(f"parents {parent_ids} name the same design twice")
        if origin is None:
            origin = ("scratch", "mutation", "crossover")[min(len(parent_ids), 2)]
        elif (origin in ("seed", "scratch")) != (not parent_ids):
            raise StoreError(f"origin {origin!r} does not fit {len(parent_ids)} parent(s)")
        design_id = check_ref_part(f"{slug(str(name))}-{self._next_seq}")
        message = CommitMessage(
            design_id=design_id,
            name=str(name),
            origin=origin,
            parents=tuple(parent_ids),
            designer=designer,
            status=status,
            cost_usd=float(cost_usd),
            title=title,
            summary=summary,
        )
        now = int(time.time())
        author = Person(designer, f"{slug(designer)}@designers.genesys", now)
        commit = self._objects.commit(
            self._objects.tree_from_files(files),
            [self._tags[p] for p in parent_ids],
            author,
            Person(*COMMITTER, now),
            message.text(),
        )
        # The tag is the commit point: a process killed before it leaves an unreachable commit
        # and no design; after it, the design exists whatever happens next.
        self._objects.set_ref(TAG_PREFIX + design_id, commit)
        self._tags[design_id] = commit
        self._next_seq += 1
        self._latest = commit
        self._packer.unpacked += 1
        if self._packer.unpacked >= self.pack_every and not self._packer.running:
            self.pack(wait=False)
        results: dict[str, Any] = {}
        if reason is not None:
            stage = "check" if status == "rejected" else "design"
            results = self.notes.attach(
                commit, design_id, "failure", {"stage": stage, "reason": reason}
            )
        return self._index(
            DesignCommit(commit, (), now, CommitMessage.parse(message.text())), results
        )

    def attach(
        self, design: str | int, kind: str, payload: Mapping[str, Any], *, at: float | None = None
    ) -> DesignRecord:
        """Attach a result (``check``, ``rung:<name>``, ``fitness``, ``failure``) to a design
        without rewriting its commit; return the updated record. See ``records.py`` for each
        kind's fields; a later result of the same kind replaces the earlier one. ``at``: when
        the result was obtained (Unix seconds; default now)."""
        self._require_writer()
        record = self.get(design)
        results = self.notes.attach(record.commit, record.id, kind, payload, at)
        return self._index(read_commit(self._objects, record.commit), results)

    def _index(self, design: DesignCommit, results: Mapping[str, Any]) -> DesignRecord:
        record = record_of(design, dict(results))
        self.index.put(record, notes_head=self.notes.head, designs=len(self._tags))
        return record

    def _require_writer(self) -> None:
        if not self.writable:
            raise StoreError(
                f"namespace {self.namespace} is open read-only; the evolution "
                "loop is its single writer"
            )

    # ---- reading designs ---------------------------------------------------------------------

    def get(self, design: str | int) -> DesignRecord:
        """A design by id (``gpt-12``), number (``12``) or commit prefix (7+ hex digits)."""
        text = str(design).strip()
        match = match_tags(self._tags, text)
        if not match and not self.writable:
            # Another process (the writer) may have committed it since we opened: look again.
            self._tags = read_tags(self.git_dir)
            match = match_tags(self._tags, text)
        if len(match) != 1:
            known = ", ".join(sorted(self._tags, key=seq_of)[-5:]) or "none yet"
            what = "several designs match" if match else "no design"
            raise StoreError(
                f"{what} {text!r} in namespace {self.namespace} "
                f"(latest: {known}; `genesys log` lists them)"
            )
        record = self.index.get(seq_of(match[0]))
        if record is None or record.id != match[0]:
            # Committed after the index's last flush (another process writes): read git.
            sha = self._tags[match[0]]
            record = record_of(read_commit(self._objects, sha), self.notes.read(sha))
        return record

    def records(self) -> list[DesignRecord]:
        """Every design in commit order, from the index.

        A reader also reads, straight from git, designs committed since the writer's last
        index flush, so a listing is never missing a committed design (their newest results
        may lag by up to the writer's flush interval).
        """
        records = self.index.records()
        if self.writable:
            return records
        self._tags = read_tags(self.git_dir)
        known = {r.seq for r in records}
        missing = sorted(sha for i, sha in self._tags.items() if seq_of(i) not in known)
        if missing:
            results = self.notes.read_all() if len(missing) > 20 else {}
            for design in read_commits(self.git_dir, ["--no-walk", *missing]):
                got = results.get(design.commit)
                records.append(record_of(design, got[1] if got else self.notes.read(design.commit)))
            records.sort(key=lambda r: r.seq)
        return records

    def results(self, design: str | int) -> dict[str, dict[str, Any]]:
        """Every result attached to a design, by kind."""
        return self.notes.read(self.get(design).commit)

    def summary(self, design: str | int) -> str:
        """The summary paragraph of a design's commit message."""
        return read_commit(self._objects, self.get(design).commit).message.summary

    def read_design_files(self, design: str | int) -> dict[str, str]:
        """A design's files (relative path -> text), as committed."""
        return read_commit_files(self.path, self.get(design).commit)

    def read_design(self, design: str | int) -> Design:
        """A design loaded and validated from its commit (DesignError if it does not load)."""
        record = self.get(design)
        files = self.read_design_files(record.id)
        return design_from_dict(
            design_json({k: v.encode() for k, v in files.items()}),
            {k: v for k, v in files.items() if k.endswith(".py")},
            f"{self.namespace}:{record.id}",
        )

    def diff(self, design: str | int, other: str | int | None = None, *args: str) -> str:
        """``git diff`` from ``other`` (default: each parent, or nothing for a root) to
        ``design``; extra ``args`` go to git (``--stat``)."""
        record = self.get(design)
        if other is not None:
            return self.git("diff", *args, self.get(other).commit, record.commit)
        if not record.parents:
            return self.git("diff", *args, EMPTY_TREE, record.commit)
        parts = []
        for parent in record.parents:
            head = f"# {record.id} against its parent {parent}\n" if len(record.parents) > 1 else ""
            parts.append(head + self.git("diff", *args, self.get(parent).commit, record.commit))
        return "\n".join(parts)

    def git(self, *args: str) -> str:
        """Run a git command in this repository and return its output (StoreError on failure)."""
        proc = subprocess.run(
            ["git", f"--git-dir={self.git_dir}", *args], capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            raise StoreError(f"git {args[0]} failed: {proc.stderr.strip()}")
        return proc.stdout

    def sync_worktree(self) -> None:
        """Check the latest design out in the work tree (detached HEAD) for people to browse."""
        latest = self._latest or (self._tags[max(self._tags, key=seq_of)] if self._tags else None)
        if latest is None:
            return
        proc = subprocess.run(
            ["git", "-C", str(self.path), "checkout", "-q", "--detach", latest],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            self.notices.append(f"the work tree was left as it is: {proc.stderr.strip()}")
