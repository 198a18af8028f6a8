"""Names in the designs store: where a namespace's repository lives, and design ids.

Design ids are ``<name slug>-<seq>``: the design's name, then its sequence number in the
namespace (1, 2, ...). They are short, stable and sortable, and the number alone (``12``) or a
commit prefix also names a design on the command line.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from genesys_tui.errors import StoreError


def designs_root() -> Path:
    """Where namespaces live: ``$GENESYS_DESIGNS_DIR`` or ``./designs``."""
    return Path(os.environ.get("GENESYS_DESIGNS_DIR") or "designs")


def namespace_path(namespace: str) -> Path:
    """The repository directory of ``namespace`` under ``designs_root()``."""
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", namespace):
        raise StoreError(f"namespace {namespace!r} must use letters, digits, '_', '-', '.'")
    return designs_root() / namespace


def slug(name: str) -> str:
    """A ref-safe, lower-case form of a design name (``"GPT SwiGLU"`` -> ``gpt-swiglu``)."""
    text = re.sub(r"[^a-z0-9_.]+", "-", name.lower()).strip("-.")
    return re.sub(r"\.{2,}", ".", text)[:40].strip("-.") or "design"
