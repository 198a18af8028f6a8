"""Design tags: the lightweight tag ``refs/tags/<design id>`` that names each design commit and
keeps it reachable, and what a person types to name a design resolved against them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from genesys_tui.store.objects import list_refs
from genesys_tui.store.scan import TAG_PREFIX, seq_of


def read_tags(git_dir: Path) -> dict[str, str]:
    """Design id -> commit, for every design tag in the repository ``git_dir``."""
    return {ref[len(TAG_PREFIX) :]: sha for ref, sha in list_refs(git_dir, TAG_PREFIX).items()}


def match_tags(tags: Mapping[str, str], text: str) -> list[str]:
    """The design ids in ``tags`` (design id -> commit) that ``text`` names: an id (``gpt-12``),
    a number (``12``) or a commit prefix (7+ hex digits). Empty when none does."""
    if text.isdigit():
        found = [i for i in tags if seq_of(i) == int(text)]
        if found or len(text) < 7:
            return found  # else an all-digit commit prefix (one commit in about 27)
    if text in tags:
        return [text]
    if re.fullmatch(r"[0-9a-f]{7,40}", text):
        return [i for i, sha in tags.items() if sha.startswith(text)]
    return []
