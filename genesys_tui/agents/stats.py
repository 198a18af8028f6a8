"""The statistics the seed paper reports for a designer, per run: the valid-design rate, the
implementation attempts per design, the cost per design and the lines of code per design.

Each LLM design session ends its ``dialogue.jsonl`` with a summary line (``Transcript.summary``);
``collect`` reads those from a designs repository (so the numbers survive the process and can
be recomputed at any time), and ``summarize`` aggregates them per designer. A design counts as
valid when it passed the checker: the loop's check result where there is one, else the
session's own final check. Designs made without agents (the offline mutator) count with one
attempt, no cost and the lines of their unit files that differ from their parents'.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from genesys_tui.agents.dialogue import read_summary

if TYPE_CHECKING:
    from genesys_tui.store.repo import DesignsRepo


@dataclass(frozen=True)
class DesignStats:
    """One designer session, as the statistics see it."""

    id: str
    designer: str
    kind: str  # mutation, crossover, scratch
    valid: bool  # passed the checker
    attempts: int  # implementation attempts (each ended with a check)
    cost_usd: float
    loc: int  # lines of code the designer wrote (non-blank, non-comment)
    stop: str = ""  # why the session ended: accepted, budget, review_threshold, ...
    defaulted_prices: tuple[str, ...] = ()  # "provider:model" charged at a default price


@dataclass(frozen=True)
class RunStats:
    designer: str  # a designer's name, or "all"
    designs: int
    valid: int
    valid_rate: float  # valid / designs
    attempts_per_design: float  # mean over sessions that reached implementation
    cost_per_design_usd: float  # mean
    loc_per_design: float  # mean, over valid designs (over all when none is valid)
    cost_total_usd: float
    stops: dict[str, int]  # how sessions ended, by reason
    defaulted_prices: list[str] = field(default_factory=list)  # cost is a guess for these


def _loc(text: str) -> int:
    return sum(1 for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#"))


def from_summary(design_id: str, designer: str, summary: dict[str, Any]) -> DesignStats:
    """A DesignStats from a session summary (the last line of ``dialogue.jsonl``)."""
    return DesignStats(
        design_id,
        designer,
        str(summary.get("kind", "")),
        bool(summary.get("valid", False)),
        int(summary.get("attempts", 0) or 0),
        float(summary.get("cost_usd", 0.0) or 0.0),
        int(summary.get("loc_written", 0) or 0),
        str(summary.get("stop", "")),
        tuple(str(x) for x in summary.get("defaulted_prices", ()) or ()),
    )


def collect(repo: DesignsRepo) -> list[DesignStats]:
    """Every designed (not seeded) design of a repository, in commit order."""
    out = []
    for record in repo.records():
        if record.origin == "seed":
            continue
        files = repo.read_design_files(record.id)
        summary = read_summary(files.get("dialogue.jsonl", ""))
        checked = record.check["ok"] if record.check is not None else None
        if summary is not None:
            stats = from_summary(record.id, record.designer, summary)
            valid = stats.valid if checked is None else checked and stats.valid
            out.append(DesignStats(**{**asdict(stats), "valid": valid}))
            continue
        parent_files: set[str] = set()
        for pid in record.parents:
            parent_files |= set(repo.read_design_files(pid).values())
        loc = sum(
            _loc(text)
            for rel, text in files.items()
            if rel.endswith(".py") and text not in parent_files
        )
        out.append(
            DesignStats(
                record.id,
                record.designer,
                record.origin,
                bool(checked) or record.status in ("checked", "verified"),
                1,
                record.cost_usd,
                loc,
                "failed" if record.status == "failed" else "",
            )
        )
    return out


def summarize(items: Sequence[DesignStats], designer: str = "all") -> RunStats:
    """Aggregate ``items`` (empty: zeros)."""
    n = len(items)
    valid = [s for s in items if s.valid]
    stops: dict[str, int] = {}
    for s in items:
        if s.stop:
            stops[s.stop] = stops.get(s.stop, 0) + 1

    def mean(values: Iterable[float]) -> float:
        values = list(values)
        return float(statistics.fmean(values)) if values else 0.0

    return RunStats(
        designer,
        n,
        len(valid),
        len(valid) / n if n else 0.0,
        mean(s.attempts for s in items if s.attempts > 0),
        mean(s.cost_usd for s in items),
        mean(s.loc for s in (valid or items)),
        sum(s.cost_usd for s in items),
        dict(sorted(stops.items())),
        sorted({m for s in items for m in s.defaulted_prices}),
    )


def by_designer(items: Sequence[DesignStats]) -> list[RunStats]:
    """One RunStats per designer (sorted by name), then "all" when there are several."""
    names = sorted({s.designer for s in items})
    rows = [summarize([s for s in items if s.designer == d], d) for d in names]
    if len(rows) != 1:
        rows.append(summarize(items))
    return rows


def format_table(rows: Sequence[RunStats]) -> str:
    """The statistics as a text table, one designer a row."""
    head = (
        f"{'designer':<24} {'designs':>7} {'valid':>7} {'attempts':>9} "
        f"{'USD/design':>11} {'LoC/design':>11} {'USD total':>10}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r.designer[:24]:<24} {r.designs:>7} {r.valid_rate:>6.0%} "
            f"{r.attempts_per_design:>9.2f} {r.cost_per_design_usd:>11.4f} "
            f"{r.loc_per_design:>11.1f} {r.cost_total_usd:>10.4f}"
        )
    stops: dict[str, int] = {}
    for r in rows:
        if r.designer != "all":
            for k, v in r.stops.items():
                stops[k] = stops.get(k, 0) + v
    if stops:
        lines.append("")
        lines.append("sessions ended: " + ", ".join(f"{k} {v}" for k, v in stops.items()))
    note = defaulted_note(sorted({m for r in rows for m in r.defaulted_prices}))
    if note:
        lines += ["", note]
    return "\n".join(lines)


def defaulted_note(models: Sequence[str]) -> str:
    """One line flagging models charged at a default price ("" when there are none); the
    dashboard's budget panel can show it as it is."""
    if not models:
        return ""
    return (
        f"price defaulted for {', '.join(models)}: not in the price table, charged at the "
        "provider's default (USD figures are guesses); add it to [agents] prices_file"
    )


def to_json(rows: Sequence[RunStats]) -> str:
    return json.dumps([asdict(r) for r in rows], indent=2)
