"""Everything the design inspector shows, read in one go (off the UI thread): plain data.

The unit tree is read from ``design.json`` as data, tolerating a design that does not load (a
rejected or failed one is inspected too); unit code is text, highlighted, never run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from genesys_tui.evolve.population import SeedMargin
from genesys_tui.evolve.terms import format_terms, record_terms
from genesys_tui.results import CheckResult, rung_results
from genesys_tui.store.records import DesignRecord
from genesys_tui.tui.catalog import Catalog
from genesys_tui.tui.curves import Curve, CurveLog, curve_of


@dataclass(frozen=True)
class UnitLine:
    depth: int
    slot: str | None  # the slot of the parent it fills (None for a root)
    uid: str
    cls: str
    role: str
    args: dict[str, Any]
    file: str


@dataclass(frozen=True)
class RungDetail:
    rung: str
    ok: bool
    scores: dict[str, float]
    evals: dict[str, float]
    seconds: float
    tokens: int
    params: int
    reason: str
    curve: Curve
    notes: tuple[str, ...] = ()  # what the verifier skipped, and why


@dataclass(frozen=True)
class DesignDetails:
    record: DesignRecord
    summary: str
    files: dict[str, str]
    units: list[UnitLine]
    unit_error: str  # why the unit tree could not be read, if it could not
    diffs: dict[str, str]  # parent id (or "" for a root: against nothing) -> unified diff
    check: CheckResult | None
    rungs: list[RungDetail] = field(default_factory=list)
    other_results: dict[str, dict[str, Any]] = field(default_factory=dict)
    terms: str = ""  # the fitness terms against the seeds, as a table (evolve.terms)
    margins: str = ""  # per rung, the margin over each seed in the rung's sigma

    @property
    def code_files(self) -> list[str]:
        return sorted(p for p in self.files if p.endswith(".py"))


def unit_lines(design_json: str) -> tuple[list[UnitLine], str]:
    """The unit tree of a design.json text, depth first; ([], why) when it cannot be read."""
    try:
        data = json.loads(design_json)
        units = data["units"]
        roots = data["root"] if isinstance(data["root"], list) else [data["root"]]
    except (ValueError, KeyError, TypeError) as exc:
        return [], f"design.json cannot be read: {exc}"
    out: list[UnitLine] = []
    seen: set[str] = set()
    stack: list[tuple[int, str | None, str]] = [(0, None, r) for r in reversed(roots)]
    while stack:
        depth, slot, uid = stack.pop()
        node = units.get(uid) if isinstance(units, dict) else None
        if not isinstance(node, dict) or uid in seen:
            out.append(UnitLine(depth, slot, str(uid), "?", "?", {}, ""))
            continue
        seen.add(uid)
        out.append(
            UnitLine(
                depth,
                slot,
                uid,
                str(node.get("class", "?")),
                str(node.get("role", "?")),
                dict(node.get("args") or {}),
                str(node.get("file", "")),
            )
        )
        children = node.get("children") or {}
        for child_slot, child in reversed(list(children.items())):
            stack.append((depth + 1, child_slot, str(child)))
    return out, ""


def load_details(
    catalog: Catalog, design: str, rungs: list[str], curves: CurveLog | None,
    sigmas: Mapping[str, float] | None = None,
) -> DesignDetails:
    """Read a design's files, results and diffs; ``rungs`` orders the rung sections, ``sigmas``
    (each rung's score noise) reads the margins over the seeds."""
    record = catalog.fresh(design)
    files = catalog.files(record.id)
    results = catalog.results(record.id)
    units, unit_error = unit_lines(files.get("design.json", ""))
    if record.parents:
        diffs = {p: catalog.diff(record.id, p) for p in record.parents}
    else:
        diffs = {"": catalog.diff(record.id)}
    by_rung = rung_results(results)
    order = {r: i for i, r in enumerate(rungs)}
    details = [
        RungDetail(
            rung=rung,
            ok=result.ok,
            scores=dict(result.scores),
            evals=dict(result.evals),
            seconds=result.seconds,
            tokens=result.tokens,
            params=result.params,
            reason="" if result.ok else result.reason,
            curve=curve_of(result, curves, record.id, rung),
            notes=result.notes,
        )
        for rung, result in sorted(
            by_rung.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])
        )
    ]
    others = {k: v for k, v in results.items() if not k.startswith("rung:") and k != "check"}
    return DesignDetails(
        record=record,
        summary=catalog.summary(record.id),
        files=files,
        units=units,
        unit_error=unit_error,
        diffs=diffs,
        check=CheckResult.from_note(results["check"]) if "check" in results else None,
        rungs=details,
        other_results=others,
        terms=_terms(record, catalog) if record.rungs and record.origin != "seed" else "",
        margins=seed_margins_text(record, catalog, rungs, sigmas or {}),
    )


def _terms(record: DesignRecord, catalog: Catalog) -> str:
    """What makes ``record``'s fitness, term by term, against the namespace's seeds."""
    terms = record_terms(record, [r for r in catalog.records() if r.origin == "seed"])
    return format_terms(terms) if terms else ""


def seed_margins_text(record: DesignRecord, catalog: Catalog, rungs: Sequence[str],
                      sigmas: Mapping[str, float]) -> str:  # fmt: skip
    """Per rung ``record`` passed: its score's margin over each seed verified there, in the
    rung's sigma, with the verdict (beats above 2 sigma, tie inside, loses below)."""
    if record.origin == "seed":
        return ""
    seeds = [r for r in catalog.records() if r.origin == "seed"]
    order = {r: i for i, r in enumerate(rungs)}
    lines = []
    for rung in sorted(record.rungs, key=lambda r: (order.get(r, len(order)), r)):
        score = record.rungs[rung].get("score")
        if score is None:
            continue
        sigma = sigmas.get(rung, 0.0)
        margins = sorted(
            (SeedMargin(s.id, rung, score - s.rungs[rung]["score"], sigma)
             for s in seeds if "score" in s.rungs.get(rung, {})),
            key=lambda m: m.margin,
        )  # fmt: skip
        if not margins:
            continue
        head = f"{rung} (sigma {sigma:.4f})" if sigma else f"{rung} (sigma not measured)"
        cells = [
            f"{m.seed} {m.in_sigma:+.1f}σ {m.verdict}" if m.in_sigma is not None
            else f"{m.seed} {m.margin:+.4f}"
            for m in margins
        ]  # fmt: skip
        lines.append(f"{head}: " + ", ".join(cells))
    return "\n".join(lines)
