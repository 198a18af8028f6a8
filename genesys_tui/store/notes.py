"""Results attached to design commits as git notes under ``refs/notes/genesys``.

A design's note is one JSON document (``records.note_document``) holding every result by kind:
the check report, each rung's training and evaluation, the fitness, a failure's reason.
Attaching merges the new result into the document and points the notes ref at the new notes
tree, so the design commit is never rewritten and ``git notes --ref=genesys show ID`` and
``git log --notes=genesys`` show the results beside each design.

The ref names the notes *tree*, not a notes commit: git reads notes from any tree-ish, and a
ref to a tree adds no commit to ``git log --all``, which therefore shows the family tree of
designs and nothing else (a notes commit per result buried it under bookkeeping). What changed
between two states is a ``git diff-tree`` of their trees. A namespace written before this
keeps a notes commit there until its next result, which replaces it with that commit's tree.

The notes tree uses git's two-level fan-out (``ab/cdef...``) from the start: one attach then
rewrites a subtree of about N/256 entries and the 256-entry root instead of an N-entry tree.
Git reads any fan-out, so ``git notes --ref=genesys show <commit>`` works as usual.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from genesys_tui.errors import StoreError
from genesys_tui.redaction import redact_data
from genesys_tui.store.objects import ObjectWriter
from genesys_tui.store.records import check_result, note_document, parse_note

NOTES_REF = "refs/notes/genesys"


class Notes:
    """Reads and (for the single writer) writes the results notes of one repository."""

    def __init__(self, git_dir: str | Path, writer: ObjectWriter | None = None):
        self.git_dir = Path(git_dir)
        self._writer = writer
        self._fanout: dict[str, dict[str, str]] | None = None  # "ab" -> {"cdef...": blob}
        self._subtrees: dict[str, str] = {}  # "ab" -> tree id, for untouched subtrees
        self._head: str | None = None
        # The writer's own results, so that attaching to a design needs no git read.
        self._cache: dict[str, dict[str, dict[str, Any]]] = {}

    @property
    def head(self) -> str | None:
        """The current notes tree (a notes commit in an older namespace; None before the
        first result)."""
        if self._writer is not None and self._fanout is not None:
            return self._head
        return ObjectWriter(self.git_dir).read_ref(NOTES_REF)

    # ---- reading ---------------------------------------------------------------------------

    def all_blobs(self) -> dict[str, str]:
        """Design commit -> note blob, for every annotated commit (one ``git notes list``)."""
        out = _git(self.git_dir, "notes", f"--ref={NOTES_REF}", "list", check=False)
        pairs = (line.split() for line in out.splitlines() if line.strip())
        return {commit: blob for blob, commit in pairs}

    def read_all(self) -> dict[str, tuple[str, dict[str, dict[str, Any]]]]:
        """Design commit -> (design id, results) for every note, read in one batch."""
        blobs = self.all_blobs()
        texts = read_blobs(self.git_dir, list(blobs.values()))
        return {commit: _parse(texts[blob], commit) for commit, blob in blobs.items()}

    def read(self, commit: str) -> dict[str, dict[str, Any]]:
        """The results attached to ``commit`` (empty if none)."""
        if commit in self._cache:
            return {k: dict(v) for k, v in self._cache[commit].items()}
        blob = self._blob_for(commit)
        if blob is None:
            return {}
        # The writer reads the loose object it wrote itself rather than start a git process.
        raw = self._writer.read_loose(blob) if self._writer is not None else None
        text = raw.decode("utf-8") if raw is not None else read_blobs(self.git_dir, [blob])[blob]
        return _parse(text, commit)[1]

    def _blob_for(self, commit: str) -> str | None:
        if self._writer is not None:
            self._load()
            assert self._fanout is not None
            return self._fanout.get(commit[:2], {}).get(commit[2:])
        out = _git(self.git_dir, "notes", f"--ref={NOTES_REF}", "list", commit, check=False)
        return out.strip() or None

    # ---- writing ---------------------------------------------------------------------------

    def attach(
        self,
        commit: str,
        design_id: str,
        kind: str,
        payload: Mapping[str, Any],
        at: float | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Merge ``payload`` as result ``kind`` into ``commit``'s note; return all its results.

        ``at`` (Unix seconds, default now) is stamped into the payload. A later result of the
        same kind replaces the earlier one in the note; the earlier stays in the notes history.
        Every string in the payload passes through the secrets redactor first: a check report
        quotes exception messages a design wrote.
        """
        if self._writer is None:
            raise StoreError("this designs repository is open read-only; open it as the writer")
        if "at" in payload:
            raise StoreError(f"results[{kind!r}].at is stamped by the store; pass at=... instead")
        clean = redact_data(dict(payload))
        stamped = check_result(kind, {**clean, "at": time.time() if at is None else at})
        results = self.read(commit)
        results[kind] = stamped
        text = json.dumps(note_document(design_id, results), indent=2, sort_keys=True) + "\n"
        self._write(commit, self._writer.blob(text.encode()))
        self._cache[commit] = results
        return {k: dict(v) for k, v in results.items()}

    def _write(self, commit: str, blob: str) -> None:
        assert self._writer is not None
        self._load()
        assert self._fanout is not None
        fan, rest = commit[:2], commit[2:]
        self._fanout.setdefault(fan, {})[rest] = blob
        sub = self._writer.tree({name: ("100644", b) for name, b in self._fanout[fan].items()})
        self._subtrees[fan] = sub
        root = self._writer.tree({f: ("40000", t) for f, t in self._subtrees.items()})
        self._writer.set_ref(NOTES_REF, root)
        self._head = root

    def _load(self) -> None:
        if self._fanout is not None:
            return
        assert self._writer is not None
        self._head = self._writer.read_ref(NOTES_REF)
        self._fanout, self._subtrees = {}, {}
        if self._head is None:
            return
        listing = _git(self.git_dir, "ls-tree", "-r", "--full-tree", self._head)
        for line in listing.splitlines():
            meta, _, path = line.partition("\t")
            _mode, _kind, sha = meta.split()
            name = path.replace("/", "")
            if len(name) != 40:
                raise StoreError(f"notes ref {NOTES_REF} holds an unexpected entry {path!r}")
            self._fanout.setdefault(name[:2], {})[name[2:]] = sha
        subs = _git(self.git_dir, "ls-tree", "--full-tree", self._head)
        for line in subs.splitlines():
            meta, _, path = line.partition("\t")
            if meta.split()[1] == "tree":
                self._subtrees[path] = meta.split()[2]
        if any(len(p) != 2 for p in self._subtrees) or set(self._subtrees) != set(self._fanout):
            # A notes tree git wrote itself (flat, or another fan-out): rewrite every subtree.
            self._subtrees = {
                fan: self._writer.tree({n: ("100644", b) for n, b in entries.items()})
                for fan, entries in self._fanout.items()
            }

    def commits_since(self, old_head: str | None) -> set[str] | None:
        """Design commits whose results changed after notes state ``old_head`` (a notes tree,
        or a notes commit of an older namespace).

        None when that state can no longer be read (the caller rebuilds).
        """
        head = self.head
        if head == old_head:
            return set()
        if head is None or not old_head:
            return None
        try:
            out = _git(self.git_dir, "diff-tree", "-r", "--name-only", old_head, head)
        except StoreError:
            return None
        return {line.replace("/", "") for line in out.splitlines() if line.strip()}


def _parse(text: str, commit: str) -> tuple[str, dict[str, dict[str, Any]]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StoreError(
            f"the results note of commit {commit[:12]} is not valid JSON: {exc}"
        ) from None
    return parse_note(data, f"note of {commit[:12]}")


def read_blobs(git_dir: Path, shas: list[str]) -> dict[str, str]:
    """Object id -> text for many blobs through one ``git cat-file --batch`` call."""
    if not shas:
        return {}
    proc = subprocess.run(
        ["git", f"--git-dir={git_dir}", "cat-file", "--batch"],
        input=("\n".join(shas) + "\n").encode(),
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        raise StoreError(f"git cat-file failed: {proc.stderr.decode(errors='replace').strip()}")
    data, pos, out = proc.stdout, 0, {}
    for sha in shas:
        end = data.index(b"\n", pos)
        header = data[pos:end].decode().split()
        if len(header) < 3 or header[1] == "missing":
            raise StoreError(f"object {sha} is missing from the repository; run `git fsck`")
        size = int(header[2])
        out[sha] = data[end + 1 : end + 1 + size].decode("utf-8")
        pos = end + 1 + size + 1
    return out


def _git(git_dir: Path, *args: str, check: bool = True, want_rc: bool = False) -> str:
    proc = subprocess.run(
        ["git", f"--git-dir={git_dir}", *args], capture_output=True, text=True, check=False
    )
    if want_rc:
        return str(proc.returncode)
    if check and proc.returncode != 0:
        raise StoreError(f"git {' '.join(args[:2])} failed: {proc.stderr.strip()}")
    return proc.stdout
