"""Reading designs back from git: every design of a repository, the basis of ``genesys index
rebuild``, of catching a stale index up, and of the writer's view of existing designs at
start-up; and one design commit, for a single lookup.

Two git processes do the work whatever the size: ``git log --tags`` for every design commit
with its message, and ``git notes list`` + one ``git cat-file --batch`` for every results note.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from genesys_tui.errors import StoreError
from genesys_tui.store.message import CommitMessage
from genesys_tui.store.notes import Notes
from genesys_tui.store.objects import ObjectWriter
from genesys_tui.store.records import DesignRecord, derive_record

TAG_PREFIX = "refs/tags/"
_FIELD, _RECORD = "\x1f", "\x00"


@dataclass(frozen=True)
class DesignCommit:
    """A design commit as git stores it."""

    commit: str
    parent_commits: tuple[str, ...]
    created: int
    message: CommitMessage


def seq_of(design_id: str) -> int:
    """The sequence number that ends a design id (``gpt-12`` -> 12); StoreError otherwise."""
    _, dash, tail = design_id.rpartition("-")
    if not dash or not tail.isdigit():
        raise StoreError(f"{design_id!r} is not a design id (expected <name>-<number>)")
    return int(tail)


def read_commits(git_dir: Path, revisions: Iterable[str] = ("--tags",)) -> list[DesignCommit]:
    """Every design commit reachable from ``revisions`` (all design tags by default)."""
    fmt = _FIELD.join(["%H", "%P", "%ct", "%B"])
    proc = subprocess.run(
        [
            "git",
            f"--git-dir={git_dir}",
            "log",
            "-z",
            "--no-show-signature",
            f"--format={fmt}",
            *revisions,
            "--",
        ],
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip()
        if "does not have any commits" in err or not err:
            return []
        raise StoreError(f"git log failed in {git_dir}: {err}")
    out: list[DesignCommit] = []
    for chunk in proc.stdout.decode("utf-8").split(_RECORD):
        if not chunk.strip():
            continue
        commit, parents, created, body = chunk.split(_FIELD, 3)
        message = CommitMessage.parse(body, f"commit {commit[:12]}")
        out.append(DesignCommit(commit, tuple(parents.split()), int(created), message))
    return out


def read_commit(objects: ObjectWriter, commit: str) -> DesignCommit:
    """One design commit: parsed from its loose object when it is loose (no git process; the
    writer's fresh commits are), else read with ``git log``."""
    raw = objects.read_loose(commit)
    if raw is None:
        return read_commits(objects.git_dir, ["--no-walk", commit])[0]
    header, _, body = raw.decode("utf-8").partition("\n\n")
    created = int(
        next(ln for ln in header.splitlines() if ln.startswith("committer ")).rsplit(" ", 2)[1]
    )
    parents = tuple(ln.split()[1] for ln in header.splitlines() if ln.startswith("parent "))
    return DesignCommit(commit, parents, created, CommitMessage.parse(body))


def scan_records(git_dir: Path) -> tuple[list[DesignRecord], str | None]:
    """Every design's index row, derived from the repository alone, and the notes head read."""
    notes = Notes(git_dir)
    head = notes.head
    commits = read_commits(git_dir)
    results = notes.read_all()
    records = [record_of(c, results.get(c.commit, ("", {}))[1]) for c in commits]
    records.sort(key=lambda r: r.seq)
    ids = [r.id for r in records]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise StoreError(
            f"two commits claim design id {dup!r}; inspect them with "
            f"`git log --all --grep='Design-Id: {dup}'`"
        )
    return records, head


def record_of(design: DesignCommit, results: dict) -> DesignRecord:
    """The index row of one design commit given its results."""
    m = design.message
    return derive_record(
        design_id=m.design_id,
        seq=seq_of(m.design_id),
        commit=design.commit,
        parents=m.parents,
        name=m.name,
        designer=m.designer,
        origin=m.origin,
        status=m.status,
        title=m.title,
        created=design.created,
        cost_usd=m.cost_usd,
        results=results,
    )
