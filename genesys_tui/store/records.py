"""Plain-data records of the designs store: the index row of a design and the results attached
to it. No git, no torch: the dashboard and the loop read these.

Everything read back from disk (an index row, a results note) is validated strictly: an unknown
field, a missing one or a value of the wrong type raises StoreError naming the field, so a file
written by a newer or broken Genesys is reported instead of half-understood.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from genesys_tui.errors import StoreError
from genesys_tui.results import CheckResult, rung_results

#: What the store knows about a design, in the order a design usually moves through them.
STATUSES: dict[str, str] = {
    "proposed": "committed, not checked yet",
    "checked": "passed the checker, not verified yet",
    "verified": "trained and evaluated on at least one rung",
    "rejected": "the checker (or the designer) rejected it; the reason is in its results",
    "failed": "verification failed (diverged, crashed, out of budget); the reason is attached",
}
#: How a design came about; the number of commit parents follows from it.
ORIGINS: dict[str, str] = {
    "seed": "a library design imported when the namespace was created (no parent)",
    "scratch": "designed from nothing (no parent)",
    "mutation": "one parent",
    "crossover": "two or more parents (a merge commit)",
}
#: Result kinds that ``attach`` accepts; ``rung:<name>`` and ``repeats:<name>`` take any rung name.
RESULT_KINDS = ("check", "rung:<name>", "repeats:<name>", "fitness", "failure", "novelty")


# --------------------------------------------------------------------------------------------
# Field checks


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


_CHECKS = {
    "str": (lambda v: isinstance(v, str), "a string"),
    "str?": (lambda v: v is None or isinstance(v, str), "a string or null"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "int": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    "number": (_is_number, "a finite number"),
    "number?": (lambda v: v is None or _is_number(v), "a finite number or null"),
    "object": (lambda v: isinstance(v, dict), "an object"),
    "object?": (lambda v: v is None or isinstance(v, dict), "an object or null"),
    "list": (lambda v: isinstance(v, list), "a list"),
    "scores": (
        lambda v: (
            isinstance(v, dict) and all(isinstance(k, str) and _is_number(x) for k, x in v.items())
        ),
        "an object of metric name -> finite number",
    ),
    "seed_scores": (
        lambda v: (
            isinstance(v, dict)
            and all(isinstance(k, str) and k.isdigit() and _is_number(x) for k, x in v.items())
        ),
        "an object of training seed (digits) -> finite number",
    ),
    "str_list": (
        lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
        "a list of strings",
    ),
}


def check_fields(
    data: Any, required: Mapping[str, str], optional: Mapping[str, str], where: str
) -> dict[str, Any]:
    """Validate a JSON object against ``{field: kind}`` maps; return it as a dict.

    Raises StoreError naming ``where.field`` for an unknown, missing or mistyped field.
    """
    if not isinstance(data, dict):
        raise StoreError(f"{where} must be a JSON object, got {type(data).__name__}")
    # Opening a 10,000-design index validates 10,000 rows: keep the common path to set
    # arithmetic on dict views and one check per field.
    if data.keys() - required.keys() - optional.keys():
        unknown = sorted(data.keys() - required.keys() - optional.keys())
        known = sorted({**required, **optional})
        raise StoreError(f"{where}.{unknown[0]}: unknown field; known fields: {known}")
    if required.keys() - data.keys():
        missing = sorted(required.keys() - data.keys())
        raise StoreError(f"{where}.{missing[0]}: missing required field")
    for name, value in data.items():
        ok, expected = _CHECKS[required.get(name) or optional[name]]
        if not ok(value):
            raise StoreError(f"{where}.{name}: expected {expected}, got {value!r:.80}")
    return dict(data)


# --------------------------------------------------------------------------------------------
# Results attached to a design (stored as one JSON note per design commit)

_RESULT_SCHEMAS: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    # kind: (required, optional); "at" (Unix seconds) is stamped by the store.
    # ``schema`` (genesys_tui.results.SCHEMA) is written since schema 2; older notes lack it.
    "check": (
        {"ok": "bool", "summary": "str", "at": "number"},
        {"findings": "list", "seconds": "number", "schema": "int"},
    ),
    "rung": (
        {"scores": "scores", "at": "number"},
        {
            "seconds": "number",
            "tokens": "int",
            "params": "int",
            "detail": "object",
            "schema": "int",
            "numerics": "str",  # where the scores were computed (verify.numerics)
        },
    ),
    # A rung's further runs with other training seeds (results.SeedRuns).
    "repeats": (
        {"scores": "seed_scores", "at": "number"},
        {"bpb": "seed_scores", "seconds": "seed_scores", "numerics": "object", "schema": "int"},
    ),
    "fitness": ({"value": "number", "at": "number"}, {"detail": "object", "schema": "int"}),
    "failure": ({"stage": "str", "reason": "str", "at": "number"}, {"schema": "int"}),
    # The evolution loop's novelty gate: hashes, and the earlier design this one duplicates.
    "novelty": (
        {"structural": "str", "at": "number"},
        {"functional": "str", "duplicate_of": "str", "schema": "int"},
    ),
}


#: Result kinds named after a rung (``rung:cpu-s``).
PER_RUNG = ("rung", "repeats")


def result_schema(kind: str) -> tuple[dict[str, str], dict[str, str]]:
    """The (required, optional) fields of a result ``kind``; StoreError for an unknown kind."""
    base, _, rung = kind.partition(":")
    if base in PER_RUNG and rung and rung.replace("-", "").replace("_", "").isalnum():
        return _RESULT_SCHEMAS[base]
    if not rung and base in _RESULT_SCHEMAS and base not in PER_RUNG:
        return _RESULT_SCHEMAS[base]
    raise StoreError(
        f"unknown result kind {kind!r}; known kinds: {list(RESULT_KINDS)} "
        "(a rung name uses letters, digits, '-' and '_')"
    )


def check_result(kind: str, payload: Any) -> dict[str, Any]:
    """Validate one result payload (``at`` included) of ``kind``; return it as a dict."""
    required, optional = result_schema(kind)
    return check_fields(payload, required, optional, f"results[{kind!r}]")


NOTE_FORMAT = 1


def note_document(design_id: str, results: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The JSON object stored as a design's note: its id and every result by kind."""
    return {
        "format": NOTE_FORMAT,
        "design": design_id,
        "results": {k: dict(v) for k, v in sorted(results.items())},
    }


def parse_note(data: Any, where: str = "note") -> tuple[str, dict[str, dict[str, Any]]]:
    """Validate a note document; return (design id, results by kind)."""
    doc = check_fields(data, {"format": "int", "design": "str", "results": "object"}, {}, where)
    if doc["format"] != NOTE_FORMAT:
        raise StoreError(
            f"{where}.format: {doc['format']} is not supported (this Genesys reads "
            f"format {NOTE_FORMAT}); upgrade Genesys"
        )
    results = {kind: check_result(kind, payload) for kind, payload in doc["results"].items()}
    return doc["design"], results


# --------------------------------------------------------------------------------------------
# The index row


@dataclass(frozen=True)
class DesignRecord:
    """One design as the index holds it. Derived entirely from the repository (the commit and
    its results note), so ``genesys index rebuild`` recreates it exactly."""

    id: str  # "<name slug>-<seq>", also the git tag naming the commit
    seq: int  # 1, 2, ... in commit order within the namespace
    commit: str  # 40-hex git commit id
    parents: tuple[str, ...]  # parent design ids, in commit-parent order
    name: str  # design.json's name
    designer: str  # agent model name, "offline-mutator", "library", a person
    origin: str  # one of ORIGINS
    status: str  # one of STATUSES
    title: str  # the commit title
    created: int  # commit time, Unix seconds
    updated: float  # time of the latest attached result (or ``created``), Unix seconds
    cost_usd: float = 0.0  # what designing it cost (LLM calls), US dollars
    compute_s: float = 0.0  # seconds spent checking and verifying it, summed over results
    check: dict[str, Any] | None = None  # {"ok": bool, "summary": str} once checked
    rungs: dict[str, dict[str, float]] = field(default_factory=dict)  # rung -> metric -> value
    fitness: float | None = None  # the loop's fitness, once it has one
    reason: str = ""  # why it was rejected or failed, where it was

    _KINDS: ClassVar[dict[str, str]] = {
        "id": "str",
        "seq": "int",
        "commit": "str",
        "parents": "str_list",
        "name": "str",
        "designer": "str",
        "origin": "str",
        "status": "str",
        "title": "str",
        "created": "int",
        "updated": "number",
        "cost_usd": "number",
        "compute_s": "number",
        "check": "object?",
        "rungs": "object",
        "fitness": "number?",
        "reason": "str",
    }

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["parents"] = list(self.parents)
        return out

    @classmethod
    def from_dict(cls, data: Any, where: str = "record") -> DesignRecord:
        """Validate an index row strictly (unknown fields rejected) and build the record."""
        row = check_fields(data, cls._KINDS, {}, where)
        if row["status"] not in STATUSES:
            raise StoreError(f"{where}.status: unknown status {row['status']!r}")
        if row["origin"] not in ORIGINS:
            raise StoreError(f"{where}.origin: unknown origin {row['origin']!r}")
        if row["check"] is not None:
            check_fields(row["check"], {"ok": "bool", "summary": "str"}, {}, f"{where}.check")
        for rung, scores in row["rungs"].items():
            ok, expected = _CHECKS["scores"]
            if not ok(scores):
                raise StoreError(f"{where}.rungs.{rung}: expected {expected}")
        row["parents"] = tuple(row["parents"])
        return cls(**row)


def derive_record(
    *,
    design_id: str,
    seq: int,
    commit: str,
    parents: tuple[str, ...],
    name: str,
    designer: str,
    origin: str,
    status: str,
    title: str,
    created: int,
    cost_usd: float,
    results: Mapping[str, Mapping[str, Any]],
) -> DesignRecord:
    """The index row from what the commit says and the results attached since.

    Status: the commit's own status, then the check's verdict, then "verified" once a rung has
    results, and a failure overrides all (stage "check" -> rejected, any other -> failed).
    """
    check = CheckResult.from_note(results["check"]) if "check" in results else None
    by_rung = rung_results(results)
    rungs = {rung: dict(result.scores) for rung, result in sorted(by_rung.items())}
    if check is not None:
        status = "checked" if check.ok else "rejected"
    if rungs and status != "rejected":
        status = "verified"
    failure = results.get("failure")
    reason = ""
    if failure is not None:
        status = "rejected" if failure["stage"] == "check" else "failed"
        reason = f"{failure['stage']}: {failure['reason']}"
    elif check is not None and not check.ok:
        reason = f"check: {check.summary}"
    fitness = results.get("fitness")
    # Only checks and rungs take compute; the other kinds record no seconds.
    compute = sum(r.seconds for r in by_rung.values()) + (check.seconds if check else 0.0)
    updated = max([float(created)] + [float(v["at"]) for v in results.values()])
    return DesignRecord(
        id=design_id,
        seq=seq,
        commit=commit,
        parents=parents,
        name=name,
        designer=designer,
        origin=origin,
        status=status,
        title=title,
        created=created,
        updated=updated,
        cost_usd=cost_usd,
        compute_s=compute,
        check=None if check is None else {"ok": check.ok, "summary": check.summary},
        rungs=rungs,
        fitness=None if fitness is None else float(fitness["value"]),
        reason=reason,
    )
