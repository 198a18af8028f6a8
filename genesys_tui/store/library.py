"""Importing the reference library into a new namespace: each design a root commit (a seed)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from genesys_tui.design import load_design
from genesys_tui.resources import library_designs
from genesys_tui.store.records import DesignRecord

LIBRARY_DESIGNER = "library"


class Committer(Protocol):
    """The one call the import makes on the repository (``repo.DesignsRepo``)."""

    @property
    def commit_design(self) -> Callable[..., DesignRecord]: ...


def import_library(
    repo: Committer, paths: Sequence[str | Path] | None = None
) -> list[DesignRecord]:
    """Commit each library design (default: all of ``library_designs()``, sorted by name) as a
    root commit with origin "seed"; return their records in commit order."""
    records = []
    for path in paths if paths is not None else library_designs():
        design = load_design(path)  # validates before anything is written
        proposal = Path(path) / "proposal.md"
        summary = design.description
        if not summary and proposal.is_file():
            summary = proposal.read_text(encoding="utf-8").strip().split("\n\n")[0]
        records.append(
            repo.commit_design(
                Path(design.path or path),
                designer=LIBRARY_DESIGNER,
                origin="seed",
                title=f"Seed: {design.name} from the reference library",
                summary=summary,
            )
        )
    return records
