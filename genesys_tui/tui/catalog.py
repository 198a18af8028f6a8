"""A namespace's designs as the dashboard reads them: read-only, safe beside the running writer.

The store's index lags the writer by up to its flush interval; ``fresh`` brings one design's
record up to date from its results note, which the writer commits at once, so a design the
loop just checked or trained shows its new status without waiting for the index.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from genesys_tui.store.records import DesignRecord, derive_record
from genesys_tui.store.repo import DesignsRepo, designs_root


class Catalog:
    """Read-only access to one designs repository (``DesignsRepo`` opened without the lock)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.repo = DesignsRepo.open(self.path)
        self.namespace = self.repo.namespace

    def close(self) -> None:
        self.repo.close()

    @property
    def notices(self) -> list[str]:
        """What the store wants a person to know (an index rebuilt, a lagging index)."""
        return list(self.repo.notices)

    def records(self) -> list[DesignRecord]:
        """Every design in commit order (the index, plus designs committed since its flush)."""
        return self.repo.records()

    def fresh(self, design: str) -> DesignRecord:
        """The design's record with its status, rungs and fitness re-derived from its note."""
        record = self.repo.get(design)
        return derive_record(
            design_id=record.id,
            seq=record.seq,
            commit=record.commit,
            parents=record.parents,
            name=record.name,
            designer=record.designer,
            origin=record.origin,
            # Derivation only moves a status forward (checked -> verified, -> rejected), so the
            # possibly stale status is a safe starting point.
            status=record.status,
            title=record.title,
            created=record.created,
            cost_usd=record.cost_usd,
            results=self.repo.results(record.id),
        )

    def results(self, design: str) -> dict[str, dict[str, Any]]:
        return self.repo.results(design)

    def files(self, design: str) -> dict[str, str]:
        return self.repo.read_design_files(design)

    def diff(self, design: str, parent: str | None = None) -> str:
        """``git diff`` from ``parent`` (default: from nothing, for a root design)."""
        return self.repo.diff(design, parent)

    def summary(self, design: str) -> str:
        return self.repo.summary(design)


def namespaces(root: Path | None = None) -> list[str]:
    """Names of the designs repositories under ``root`` (default: ``designs_root()``)."""
    folder = root or designs_root()
    if not folder.is_dir():
        return []
    return sorted(
        p.name
        for p in folder.iterdir()
        if (p / ".git").is_dir() and re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", p.name)
    )
