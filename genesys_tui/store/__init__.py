"""The designs store: every design a git commit, results as notes, a TinyDB index rebuildable
from the repository. Text and data only: this package never imports torch.

::

    from genesys_tui.store import DesignsRepo, namespace_path

    with DesignsRepo.open(namespace_path("run1"), writer=True, create=True) as repo:
        child = repo.commit_design("path/to/design", parents=["gpt-1"],
                                   designer="offline-mutator", title="Wider MLP")
        repo.attach(child.id, "check", {"ok": True, "summary": "all checks passed"})
        repo.attach(child.id, "rung:cpu-xs", {"scores": {"bpb": 1.93}, "seconds": 41.0})
        repo.attach(child.id, "fitness", {"value": 0.71})
        print(repo.index.query(status="verified"))

Names are imported on first use, so ``genesys --help`` does not pay for GitPython and TinyDB.

Layout: ``repo`` (``DesignsRepo``, the whole interface) and its parts: ``names`` (namespace
paths, design ids), ``tags`` (the design tags), ``files`` (a design's files in and out),
``objects`` (git objects and refs), ``message`` (commit messages), ``notes`` (results),
``records`` (index rows and results as data), ``index`` (the TinyDB index), ``scan`` (designs
read back from git), ``upkeep`` (keeping the index up to date), ``lock`` (the single writer),
``packing`` (packing the repository); ``library`` (seeding a namespace) and ``phylo`` (the
family tree) build on it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from genesys_tui.store.index import DesignIndex
    from genesys_tui.store.library import import_library
    from genesys_tui.store.names import designs_root, namespace_path
    from genesys_tui.store.phylo import phylogeny
    from genesys_tui.store.records import ORIGINS, STATUSES, DesignRecord
    from genesys_tui.store.repo import DesignsRepo

_HOME = {
    "DesignIndex": "index",
    "import_library": "library",
    "phylogeny": "phylo",
    "ORIGINS": "records",
    "STATUSES": "records",
    "DesignRecord": "records",
    "DesignsRepo": "repo",
    "designs_root": "names",
    "namespace_path": "names",
}
__all__ = [
    "ORIGINS",
    "STATUSES",
    "DesignIndex",
    "DesignRecord",
    "DesignsRepo",
    "designs_root",
    "import_library",
    "namespace_path",
    "phylogeny",
]


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(f"genesys_tui.store.{_HOME[name]}"), name)
    raise AttributeError(f"module 'genesys_tui.store' has no attribute {name!r}")
