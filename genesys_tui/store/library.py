"""Importing the reference library into a new namespace: each design a root commit (a seed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from genesys_tui.design import load_design
from genesys_tui.resources import library_designs
from genesys_tui.store.records import DesignRecord

if TYPE_CHECKING:
    from genesys_tui.store.repo import DesignsRepo

LIBRARY_DESIGNER = "library"


def import_library(
    repo: DesignsRepo, paths: Sequence[str | Path] | None = None
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
