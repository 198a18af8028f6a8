"""A design's files on their way into and out of the repository: a design directory (or a
mapping of relative path -> text) collected for a commit (every text file through the secrets
redactor), the files of a committed design read back, and its ``design.json`` parsed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from genesys_tui.design import DESIGN_FILE
from genesys_tui.errors import StoreError
from genesys_tui.redaction import REDACT
from genesys_tui.store.notes import read_blobs

DesignSource = str | Path | Mapping[str, str | bytes]
# Hidden files, caches and bytecode in a design directory are not part of the design.
_SKIP = re.compile(r"(^|/)(\.|__pycache__/)|\.pyc$")


def collect_files(design: DesignSource) -> dict[str, bytes]:
    """The files to commit (relative POSIX path -> bytes) from a design directory or a mapping.

    StoreError for a path that leaves the design (absolute, ``..``, ``.git``) or no file at all.
    Text files come back with every registered secret redacted.
    """
    if isinstance(design, Mapping):
        files = {
            str(k): v.encode("utf-8") if isinstance(v, str) else bytes(v) for k, v in design.items()
        }
    else:
        root = Path(design)
        if not root.is_dir():
            raise StoreError(f"{root} is not a design directory")
        files = {
            p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }
        files = {k: v for k, v in files.items() if not _SKIP.search(k)}
    for rel in files:
        parts = rel.split("/")
        if rel.startswith("/") or any(p in ("", ".", "..", ".git") for p in parts):
            raise StoreError(f"design file path {rel!r} must be relative, inside the design")
    if not files:
        raise StoreError("a design needs at least one file")
    return {rel: _redacted(data) for rel, data in files.items()}


def _redacted(data: bytes) -> bytes:
    """A text file with every secret redacted; any other file as it is."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data
    clean = REDACT(text)
    return data if clean == text else clean.encode("utf-8")


def read_commit_files(path: Path, commit: str) -> dict[str, str]:
    """The files (relative path -> text) of ``commit`` in the repository at ``path``."""
    import git  # GitPython walks the tree; reading the blobs is one cat-file batch

    repo = git.Repo(path)
    try:
        tree = repo.commit(commit).tree
        blobs = [
            (str(b.path), b.hexsha)
            for b in tree.traverse()
            if isinstance(b, git.Blob)  # units/ folders are walked into, not listed
        ]
    finally:
        repo.close()
    texts = read_blobs(path / ".git", [sha for _, sha in blobs])
    return {rel: texts[sha] for rel, sha in blobs}


def design_json(files: Mapping[str, bytes]) -> Any:
    """The parsed ``design.json`` among ``files``, or None when it is missing or not JSON."""
    try:
        return json.loads(files[DESIGN_FILE])
    except (KeyError, ValueError):
        return None
