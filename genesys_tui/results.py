"""The results a design earns, as typed records: its check, its novelty hashes, each rung's
training and evaluation. Plain data, no torch, no git.

A rung's result is one training run, with the training seed of the loop that made it. Runs of
the same design at the same rung with other training seeds (a confirmation's, a noise study's)
are kept beside it as ``SeedRuns`` (``repeats:<rung>``), so that they are trained once.

One record travels from the worker that produced it to the screen: the verify job returns a
``RungResult``, the recorder attaches it, the store keeps it in the design's git note, the
population and the dashboard read it back. Text happens at two boundaries only, each through
the codec here: the worker process boundary (``to_wire`` / ``from_wire``, JSON) and the git
note (``to_note`` / ``from_note``). Every note carries ``schema``; notes written before it
(schema 1: the same fields, no ``schema``) load unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: The layout of a result as this Genesys writes it; older notes (1) load too.
SCHEMA = 2


def _scores(data: Any) -> dict[str, float]:
    if not isinstance(data, Mapping):
        return {}
    return {str(k): float(v) for k, v in data.items() if _finite(v)}


def _finite(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


@dataclass(frozen=True)
class RungResult:
    """One design at one rung: the training and evaluation the verifier did, or why not.

    ``scores`` holds what the ranking reads: ``score`` (the rung score, 0 at chance, 1 perfect),
    ``bpb`` (held-out bits per byte), ``eval/<task>`` accuracies and ``tokens_per_second``.
    """

    ok: bool
    scores: Mapping[str, float] = field(default_factory=dict)
    seconds: float = 0.0  # wall seconds of the verification (training and evaluation)
    tokens: int = 0  # training tokens the trainer consumed
    params: int = 0  # parameters of the trained model (the tied embedding once)
    evals: Mapping[str, float] = field(default_factory=dict)  # task -> accuracy
    curve: tuple[tuple[int, float], ...] = ()  # (step, training loss), thinned
    notes: tuple[str, ...] = ()  # what the verifier skipped, and why
    reason: str = ""  # why not ok
    # the torch build and kernels the scores were computed with (``verify.numerics``): the
    # same run on other numerics differs as another training seed does; "" where not recorded
    numerics: str = ""

    @property
    def score(self) -> float | None:
        return self.scores.get("score") if self.ok else None

    @property
    def bpb(self) -> float | None:
        return self.scores.get("bpb") if self.ok else None

    # ---- the git note ------------------------------------------------------------------

    def to_note(self) -> dict[str, Any]:
        """The payload of a ``rung:<name>`` note (the store stamps ``at``)."""
        detail: dict[str, Any] = {"ok": self.ok}
        if self.ok:
            detail.update(
                evals=dict(self.evals),
                curve=[[s, loss] for s, loss in self.curve],
                notes=list(self.notes),
            )
        else:
            detail["reason"] = self.reason[:2000]
        out: dict[str, Any] = {
            "schema": SCHEMA,
            "scores": dict(self.scores) if self.ok else {},
            "seconds": float(self.seconds),
            "detail": detail,
        }
        if self.ok:
            out.update(tokens=int(self.tokens), params=int(self.params))
            if self.numerics:
                out["numerics"] = self.numerics
        return out

    @classmethod
    def from_note(cls, payload: Mapping[str, Any]) -> RungResult:
        """A stored ``rung:<name>`` note, of this schema or the one before (no ``schema``; a
        result without ``detail`` or with scores but no ``detail.ok`` counts as ok)."""
        detail = payload.get("detail")
        detail = detail if isinstance(detail, Mapping) else {}
        scores = _scores(payload.get("scores"))
        ok = bool(detail.get("ok", True)) and "score" in scores
        curve = detail.get("curve") or ()
        return cls(
            ok=ok,
            scores=scores,
            seconds=float(payload.get("seconds") or 0.0),
            tokens=int(payload.get("tokens") or 0),
            params=int(payload.get("params") or 0),
            evals=_scores(detail.get("evals")),
            curve=tuple((int(s), float(loss)) for s, loss in curve),
            notes=tuple(str(n) for n in detail.get("notes") or ()),
            reason=str(detail.get("reason") or ("" if ok else "no rung score was recorded")),
            numerics=str(payload.get("numerics") or ""),
        )

    # ---- the worker boundary -------------------------------------------------------------

    def to_wire(self) -> dict[str, Any]:
        """JSON for the worker's result file."""
        return {
            "ok": self.ok,
            "scores": dict(self.scores),
            "seconds": self.seconds,
            "tokens": self.tokens,
            "params": self.params,
            "evals": dict(self.evals),
            "curve": [[s, loss] for s, loss in self.curve],
            "notes": list(self.notes),
            "reason": self.reason,
            "numerics": self.numerics,
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> RungResult:
        """What ``to_wire`` wrote; a worker that died without a result is the caller's case."""
        return cls(
            ok=bool(data["ok"]),
            scores=_scores(data["scores"]),
            seconds=float(data["seconds"]),
            tokens=int(data["tokens"]),
            params=int(data["params"]),
            evals=_scores(data["evals"]),
            curve=tuple((int(s), float(loss)) for s, loss in data["curve"]),
            notes=tuple(str(n) for n in data["notes"]),
            reason=str(data["reason"]),
            numerics=str(data.get("numerics") or ""),
        )

    @classmethod
    def failed(cls, reason: str, seconds: float = 0.0) -> RungResult:
        return cls(ok=False, seconds=seconds, reason=reason)


@dataclass(frozen=True)
class CheckResult:
    """The checker's verdict as the loop records it."""

    ok: bool
    summary: str  # "passed", or the first errors in one line
    findings: tuple[Mapping[str, Any], ...] = ()  # the report's findings, as the report wrote
    seconds: float = 0.0
    fingerprint: str = ""  # the functional fingerprint (seeded logits), for novelty

    def to_note(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "ok": self.ok,
            "summary": self.summary[:2000],
            "findings": [dict(f) for f in self.findings],
            "seconds": float(self.seconds),
        }

    @classmethod
    def from_note(cls, payload: Mapping[str, Any]) -> CheckResult:
        return cls(
            ok=bool(payload["ok"]),
            summary=str(payload["summary"]),
            findings=tuple(payload.get("findings") or ()),
            seconds=float(payload.get("seconds") or 0.0),
            fingerprint=str(payload.get("fingerprint") or ""),
        )

    def to_wire(self) -> dict[str, Any]:
        """What a check job returns across a process (or a machine): the note plus the
        fingerprint, which novelty needs and the note does not keep."""
        return {**self.to_note(), "fingerprint": self.fingerprint}

    @classmethod
    def from_wire(cls, payload: Mapping[str, Any]) -> CheckResult:
        return cls.from_note(payload)


@dataclass(frozen=True)
class NoveltyResult:
    """The novelty gate's hashes, and the earlier design this one duplicates, if any."""

    structural: str
    functional: str = ""
    duplicate_of: str = ""

    def to_note(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "structural": self.structural,
            "functional": self.functional,
            "duplicate_of": self.duplicate_of,
        }

    @classmethod
    def from_note(cls, payload: Mapping[str, Any]) -> NoveltyResult:
        return cls(
            structural=str(payload["structural"]),
            functional=str(payload.get("functional") or ""),
            duplicate_of=str(payload.get("duplicate_of") or ""),
        )


@dataclass(frozen=True)
class SeedRuns:
    """A design's further runs at one rung, by training seed: rung score, held-out bits per
    byte, wall seconds and numerics of each (the rung's own result is the loop's run)."""

    scores: Mapping[int, float] = field(default_factory=dict)
    bpb: Mapping[int, float] = field(default_factory=dict)
    seconds: Mapping[int, float] = field(default_factory=dict)
    numerics: Mapping[int, str] = field(default_factory=dict)  # where recorded

    def with_run(self, seed: int, result: RungResult) -> SeedRuns:
        """These runs and ``result`` (an ok run with a score) as training seed ``seed``'s."""
        if result.score is None:
            raise ValueError(f"training seed {seed}: a run without a score is not kept")
        bpb = {**self.bpb, seed: result.bpb} if result.bpb is not None else dict(self.bpb)
        numerics = {k: v for k, v in self.numerics.items() if k != seed}
        if result.numerics:
            numerics[seed] = result.numerics
        return SeedRuns({**self.scores, seed: result.score}, bpb,
                        {**self.seconds, seed: result.seconds}, numerics)  # fmt: skip

    def to_note(self) -> dict[str, Any]:
        def keyed(values: Mapping[int, float]) -> dict[str, float]:
            return {str(seed): float(v) for seed, v in sorted(values.items())}

        numerics = {str(seed): where for seed, where in sorted(self.numerics.items())}
        return {"scores": keyed(self.scores), "bpb": keyed(self.bpb),
                "seconds": keyed(self.seconds), "numerics": numerics, "schema": SCHEMA}  # fmt: skip

    @classmethod
    def from_note(cls, payload: Mapping[str, Any]) -> SeedRuns:
        def keyed(name: str) -> dict[int, float]:
            return {int(k): v for k, v in _scores(payload.get(name)).items() if k.isdigit()}

        recorded = payload.get("numerics")
        recorded = recorded if isinstance(recorded, Mapping) else {}
        numerics = {int(k): str(v) for k, v in recorded.items() if str(k).isdigit() and v}
        return cls(keyed("scores"), keyed("bpb"), keyed("seconds"), numerics)


def repeat_runs(results: Mapping[str, Mapping[str, Any]]) -> dict[str, SeedRuns]:
    """Rung name -> the design's further runs there (``repeats:<rung>``), from its results."""
    return {
        kind.partition(":")[2]: SeedRuns.from_note(payload)
        for kind, payload in results.items()
        if kind.startswith("repeats:")
    }


def rung_results(results: Mapping[str, Mapping[str, Any]]) -> dict[str, RungResult]:
    """Rung name -> RungResult, from a design's stored results by kind."""
    return {
        kind.partition(":")[2]: RungResult.from_note(payload)
        for kind, payload in results.items()
        if kind.startswith("rung:")
    }
