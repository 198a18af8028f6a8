"""The commit message of a design: a title line, a short summary, and trailers.

::

    Swap GELU for SwiGLU in the MLP

    The gated unit spends the same parameters on a multiplicative path.

    Design-Id: gpt-12
    Name: gpt
    Origin: mutation
    Parents: gpt-1
    Designer: offline-mutator
    Status: proposed
    Cost-USD: 0.000000

The trailers are everything the index needs besides the results notes, so the index can be
rebuilt from ``git log`` alone; ``git interpret-trailers --parse`` and
``git log --format='%(trailers)'`` read them too. The text passes through the secrets redactor.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from genesys_tui.errors import StoreError
from genesys_tui.redaction import REDACT
from genesys_tui.store.records import ORIGINS, STATUSES

_TRAILERS = ("Design-Id", "Name", "Origin", "Parents", "Designer", "Status", "Cost-USD")
# Control characters would break git's message parsing and our own field separators.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
TITLE_MAX = 200


@dataclass(frozen=True)
class CommitMessage:
    """What a design's commit message says; ``parents`` are design ids."""

    design_id: str
    name: str
    origin: str
    parents: tuple[str, ...]
    designer: str
    status: str
    cost_usd: float
    title: str
    summary: str = ""

    def __post_init__(self) -> None:
        if self.origin not in ORIGINS:
            raise StoreError(f"origin {self.origin!r} is not one of {sorted(ORIGINS)}")
        if self.status not in STATUSES:
            raise StoreError(f"status {self.status!r} is not one of {sorted(STATUSES)}")
        if not math.isfinite(self.cost_usd) or self.cost_usd < 0:
            raise StoreError(f"cost_usd must be a finite number >= 0, got {self.cost_usd!r}")

    def text(self) -> str:
        title = one_line(self.title)[:TITLE_MAX] or f"{self.origin} {self.design_id}"
        parts = [title]
        summary = clean_text(self.summary).strip()
        if summary:
            parts.append(summary)
        values = {
            "Design-Id": self.design_id,
            "Name": one_line(self.name),
            "Origin": self.origin,
            "Parents": " ".join(self.parents) or "none",
            "Designer": one_line(self.designer),
            "Status": self.status,
            "Cost-USD": f"{self.cost_usd:.6f}",
        }
        parts.append("\n".join(f"{k}: {values[k]}" for k in _TRAILERS))
        return REDACT("\n\n".join(parts) + "\n")  # titles and summaries come from agents

    @classmethod
    def parse(cls, text: str, where: str = "commit") -> CommitMessage:
        """Read a message written by ``text()``; StoreError names the trailer at fault."""
        body = text.strip("\n")
        head, sep, trailer_block = body.rpartition("\n\n")
        if not sep:
            raise StoreError(f"{where}: no trailers; this commit was not made by Genesys")
        trailers: dict[str, str] = {}
        for line in trailer_block.splitlines():
            key, colon, value = line.partition(": ")
            if not colon or key not in _TRAILERS:
                raise StoreError(
                    f"{where}: unknown trailer line {line!r}; known trailers: {list(_TRAILERS)}"
                )
            trailers[key] = value.strip()
        missing = [k for k in _TRAILERS if k not in trailers]
        if missing:
            raise StoreError(f"{where}: missing trailer {missing[0]}")
        title, _, summary = head.partition("\n\n")
        parents = () if trailers["Parents"] == "none" else tuple(trailers["Parents"].split())
        try:
            cost = float(trailers["Cost-USD"])
        except ValueError:
            bad = trailers["Cost-USD"]
            raise StoreError(f"{where}: Cost-USD {bad!r} is not a number") from None
        return cls(
            design_id=trailers["Design-Id"],
            name=trailers["Name"],
            origin=trailers["Origin"],
            parents=parents,
            designer=trailers["Designer"],
            status=trailers["Status"],
            cost_usd=cost,
            title=title.strip(),
            summary=summary.strip(),
        )


def clean_text(text: str) -> str:
    """``text`` without control characters (newlines and tabs kept)."""
    return _CONTROL.sub("", text.replace("\r\n", "\n"))


def one_line(text: str) -> str:
    """``text`` as a single line: control characters dropped, whitespace runs collapsed."""
    return " ".join(clean_text(text).split())
