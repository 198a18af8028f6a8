"""Git objects and refs written straight into a repository's ``.git`` directory.

Why not ``git hash-object``/``commit-tree`` or GitPython's ``odb.store``: one design is about six
objects, and a git subprocess costs milliseconds each while gitdb's pure-Python store measured
3 ms per object here. A loose object is just ``zlib(b"<type> <size>\\0" + body)`` at
``objects/<2 hex>/<38 hex>``; writing it ourselves costs about 0.15 ms, well inside the store's
20 ms budget per design. Everything is written to a temporary file and renamed into place, so a
process killed at any instant leaves either the whole object (or ref) or nothing, and readers
(``git log``, the dashboard) never see half a file.

Reading goes through git itself (GitPython's persistent ``git cat-file --batch``).
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from genesys_tui.errors import StoreError

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
_HEX40 = re.compile(r"^[0-9a-f]{40}$")
# Git's own ref-name rules (git check-ref-format), narrowed to what design ids need.
_REF_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")


@dataclass(frozen=True)
class Person:
    """An author or committer line: name, e-mail, Unix time in seconds (UTC)."""

    name: str
    email: str
    time: int

    def line(self) -> str:
        return f"{_clean_ident(self.name)} <{_clean_ident(self.email)}> {self.time} +0000"


def _clean_ident(text: str) -> str:
    # Git rejects '<', '>' and newlines inside an identity; agents choose model names freely.
    cleaned = re.sub(r"[<>\n\r\x00]", "", text).strip()
    return cleaned or "unknown"


def check_ref_part(name: str) -> str:
    """Return ``name`` if it is a safe single ref component (a design id), else raise StoreError."""
    if not _REF_PART.match(name) or name.endswith((".lock", ".")) or ".." in name:
        raise StoreError(f"{name!r} cannot name a git ref: use letters, digits, '_', '-', '.'")
    return name


class ObjectWriter:
    """Writes loose objects and refs into the git directory ``git_dir``.

    Not thread-safe; the designs repository has a single writer (the evolution loop), enforced
    by ``DesignsRepo``'s writer lock.
    """

    def __init__(self, git_dir: str | Path):
        self.git_dir = Path(git_dir)
        self._objects = self.git_dir / "objects"

    # ---- objects -------------------------------------------------------------------------

    def write(self, kind: str, body: bytes) -> str:
        """Store one object of ``kind`` (blob, tree, commit) and return its hex id."""
        raw = f"{kind} {len(body)}\0".encode() + body
        sha = hashlib.sha1(raw).hexdigest()
        subdir = self._objects / sha[:2]
        target = subdir / sha[2:]
        if target.exists():
            return sha  # content-addressed: already there (a unit shared with the parent)
        # Level 1 is three times faster than git's default and costs ~10% more bytes; `git gc`
        # recompresses into packs anyway. "tmp_obj_" is the prefix git's fsck and gc expect.
        data = zlib.compress(raw, 1)
        tmp = subdir / f"tmp_obj_{os.getpid()}_{sha[2:10]}"
        for attempt in range(3):
            try:
                _atomic_write(target, data, tmp, mode=0o444)
                break
            except FileNotFoundError:
                # The fan-out folder is new, or a concurrent `git repack -d` (prune-packed)
                # just removed it as empty.
                if attempt == 2:
                    raise
                subdir.mkdir(parents=True, exist_ok=True)
        return sha

    def read_loose(self, sha: str) -> bytes | None:
        """The body of loose object ``sha``, or None when it is packed or absent."""
        try:
            raw = zlib.decompress((self._objects / sha[:2] / sha[2:]).read_bytes())
        except FileNotFoundError:
            return None
        return raw[raw.index(b"\0") + 1 :]

    def blob(self, data: bytes) -> str:
        return self.write("blob", data)

    def tree(self, entries: Mapping[str, tuple[str, str]]) -> str:
        """A tree from ``{name: (mode, sha)}``; mode is ``"100644"`` (file) or ``"40000"`` (tree).

        Entries are sorted the way git sorts them: trees compare as if their name ended in '/'.
        """

        def key(item: tuple[str, tuple[str, str]]) -> bytes:
            name, (mode, _) = item
            return (name + "/" if mode == "40000" else name).encode()

        body = b"".join(
            f"{mode} {name}".encode() + b"\0" + bytes.fromhex(sha)
            for name, (mode, sha) in sorted(entries.items(), key=key)
        )
        return self.write("tree", body)

    def tree_from_files(self, files: Mapping[str, bytes]) -> str:
        """Write every file (relative POSIX path -> bytes) and the trees above them.

        Returns the root tree's id.
        """
        root: dict[str, object] = {}
        for rel, data in files.items():
            parts = rel.split("/")
            node = root
            for part in parts[:-1]:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise StoreError(f"{rel!r} clashes with the file {part!r} in the same design")
                node = child
            if parts[-1] in node:
                raise StoreError(f"{rel!r} is given twice, or both as a file and a folder")
            node[parts[-1]] = data
        return self._write_tree_node(root)

    def _write_tree_node(self, node: Mapping[str, object]) -> str:
        entries: dict[str, tuple[str, str]] = {}
        for name, value in node.items():
            if isinstance(value, dict):
                entries[name] = ("40000", self._write_tree_node(value))
            else:
                assert isinstance(value, bytes)
                entries[name] = ("100644", self.blob(value))
        return self.tree(entries)

    def commit(
        self, tree: str, parents: Iterable[str], author: Person, committer: Person, message: str
    ) -> str:
        lines = [f"tree {tree}"]
        lines += [f"parent {p}" for p in parents]
        lines += [f"author {author.line()}", f"committer {committer.line()}", ""]
        body = "\n".join(lines) + "\n" + message.rstrip("\n") + "\n"
        return self.write("commit", body.encode("utf-8"))

    # ---- refs ----------------------------------------------------------------------------

    def set_ref(self, ref: str, sha: str, timeout: float = 5.0) -> None:
        """Point ``ref`` (``refs/tags/gpt-3``) at ``sha``: a loose ref, replaced atomically.

        Follows git's own protocol (create ``<ref>.lock`` exclusively, write, rename it over the
        ref), so ``git pack-refs`` or ``git gc`` running meanwhile can never undo the update.
        """
        if not _HEX40.match(sha):
            raise StoreError(f"not an object id: {sha!r}")
        path = self.git_dir / ref
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = path.with_name(path.name + ".lock")
        deadline = time.monotonic() + timeout
        while True:
            try:
                fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                break
            except FileExistsError:
                if time.monotonic() > deadline:
                    raise StoreError(
                        f"{lock} has existed for {timeout:.0f} s; if no git command is running "
                        "in this repository, a crashed one left it: delete it and retry"
                    ) from None
                time.sleep(0.01)
        try:
            os.write(fd, f"{sha}\n".encode())
        finally:
            os.close(fd)
        os.replace(lock, path)

    def read_ref(self, ref: str) -> str | None:
        """The object ``ref`` points at, from its loose file or ``packed-refs``; None if absent."""
        path = self.git_dir / ref
        try:
            text = path.read_text().strip()
        except FileNotFoundError:
            return _packed_refs(self.git_dir).get(ref)
        if not _HEX40.match(text):
            raise StoreError(f"ref {ref} holds {text[:60]!r}, not an object id; repair with git")
        return text


def _packed_refs(git_dir: Path) -> dict[str, str]:
    refs: dict[str, str] = {}
    try:
        text = (git_dir / "packed-refs").read_text()
    except FileNotFoundError:
        return refs
    for line in text.splitlines():
        if line and line[0] not in "#^":
            sha, _, name = line.partition(" ")
            refs[name] = sha
    return refs


def list_refs(git_dir: str | Path, prefix: str) -> dict[str, str]:
    """Every ref under ``prefix`` (``refs/tags/``): full name -> object id, loose over packed.

    Safe beside a writer that packs refs: git writes packed-refs before it deletes the loose
    files, so the loose files are read first and packed-refs after them; a loose ref that
    vanished in between is then found packed.
    """
    base = Path(git_dir)
    loose: dict[str, str] = {}
    root = base / prefix
    if root.is_dir():
        for dirpath, _dirs, names in os.walk(root):
            for name in names:
                if name.endswith(".lock"):
                    continue
                full = os.path.join(dirpath, name)
                try:
                    with open(full) as fh:
                        sha = fh.read().strip()
                except FileNotFoundError:  # packed meanwhile: packed-refs has it
                    continue
                if _HEX40.match(sha):
                    loose[Path(full).relative_to(base).as_posix()] = sha
    refs = {name: sha for name, sha in _packed_refs(base).items() if name.startswith(prefix)}
    refs.update(loose)
    return refs


def _atomic_write(path: Path, data: bytes, tmp: Path, mode: int = 0o644) -> None:
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    os.replace(tmp, path)
