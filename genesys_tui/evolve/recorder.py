"""The recorder: what the loop's jobs produced, written to the repository and the population.

The designs repository is the record (commits and attached results); the population is the
loop's in-memory view of it, rebuilt from the repository on start and resume. The recorder keeps
the two in step: it commits each designer's answer, attaches each check and rung result, updates
the matching member, and announces each step on the event bus. It runs on the loop's controller
thread only, so the repository keeps a single writer. Starting jobs is the loop's business: the
recorder only says which design is due a check.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from genesys_tui.designer import Designer, DesignFailure, Proposal
from genesys_tui.draft import structural_hash
from genesys_tui.evolve import events as ev
from genesys_tui.evolve.population import Population, member_from_store
from genesys_tui.evolve.runner import JobResult
from genesys_tui.evolve.selection import Choice
from genesys_tui.results import CheckResult, NoveltyResult, RungResult


class Recorder:
    """Records designs, checks and verifications of one namespace; owns its ``population``.

    ``repo`` is the namespace's writable designs repository, ``rungs`` the ladder's rung names
    (smallest first), ``bus`` where events go, and ``designer`` the designer whose name goes on
    the commits (and whose unit ``pool``, if it has one, learns from each design that passes
    its check).
    """

    def __init__(
        self, repo: Any, rungs: Sequence[str], bus: ev.EventBus, designer: Designer,
        sigmas: Mapping[str, float] | None = None,
    ) -> None:  # fmt: skip
        self.repo = repo
        self.rungs = list(rungs)
        self.sigmas = dict(sigmas or {})  # rung -> score noise, for margins in sigma
        self.bus = bus
        self.designer = designer
        self.population = Population(self.rungs, self.sigmas)

    def load(self) -> None:
        """Rebuild the population from the repository (start and resume)."""
        self.population = Population(self.rungs, self.sigmas)
        for record in self.repo.records():
            self.population.add(member_from_store(record, self.repo.results(record.id)))
        for member in self.population.members.values():
            if not member.structural and member.status != "failed":
                try:
                    member.structural = structural_hash(self.repo.read_design(member.id))
                except Exception:  # a design that never loaded has no hash; it was rejected
                    member.structural = ""

    def design(self, choice: Choice, out: Proposal | DesignFailure) -> str | None:
        """Commit the designer's answer to ``choice``: a failure with status "failed", a
        proposal with status "proposed", or "rejected" when its structure repeats an earlier
        design's. Return the id of the design the loop should check next, or None."""
        cfg_designer = self.designer.name
        if isinstance(out, DesignFailure):
            files = dict(out.files) or {"FAILURE.md": f"# Design failed\n\n{out.reason}\n"}
            files.setdefault(
                "design.json", '{"format": 1, "name": "failed", "root": "", "units": {}}\n'
            )
            record = self.repo.commit_design(
                files,
                parents=list(choice.parents),
                designer=cfg_designer,
                title="design failed",
                summary=out.reason,
                cost_usd=out.cost_usd,
                status="failed",
                reason=out.reason,
                name="failed",
            )
            self.population.add(member_from_store(record, {}))
            self.bus.emit(
                ev.DesignCommitted(
                    design=record.id,
                    commit=record.commit,
                    parents=choice.parents,
                    status="failed",
                    name="failed",
                    title=out.reason,
                )
            )
            return None
        design = out.design
        self.bus.emit(
            ev.DesignProposed(
                title=out.title,
                parents=choice.parents,
                designer=cfg_designer,
                operation=choice.kind,
                reason=choice.reason,
            )
        )
        files = {"design.json": design.to_json(), **design.sources, **out.files}
        h = structural_hash(design)
        dup = self.population.find_structural(h)
        record = self.repo.commit_design(
            files,
            parents=list(choice.parents),
            designer=cfg_designer,
            title=out.title,
            summary=out.rationale,
            cost_usd=out.cost_usd,
            status="rejected" if dup else "proposed",
            reason=f"duplicate of {dup} (same structure)" if dup else None,
        )
        self.repo.attach(record.id, "novelty", NoveltyResult(h, "", dup or "").to_note())
        member = member_from_store(record, {})
        member.structural, member.duplicate_of = h, dup or ""
        self.population.add(member)
        self.bus.emit(
            ev.DesignCommitted(
                design=record.id,
                commit=record.commit,
                parents=choice.parents,
                status=record.status,
                name=design.name,
                title=out.title,
            )
        )
        if out.cost_usd:
            self.bus.emit(
                ev.CostUpdate(
                    total_usd=self.population.cost_usd,
                    design_usd=out.cost_usd,
                    defaulted_prices=tuple(out.stats.get("defaulted_prices", ())),
                )
            )
        return None if dup else record.id

    def check(self, design_id: str, result: JobResult) -> None:
        """Attach a check's result (a ``CheckResult`` or its wire form, or the job's error when
        the checker could not run); a design that passed gets its functional fingerprint
        compared with the others' (novelty)."""
        check, error = result.value, result.error or "check failed"
        if result.ok and isinstance(check, Mapping):  # from a check job: CheckResult.to_wire
            try:
                check = CheckResult.from_wire(check)
            except (KeyError, TypeError, ValueError) as exc:
                check, error = None, f"the check result does not read ({exc!r})"
        if not isinstance(check, CheckResult) or not result.ok:
            check = CheckResult(False, error, seconds=result.seconds)
        member = self.population.members[design_id]
        if not check.ok and member.is_seed:
            # A library seed is a trusted reference and every rung's baseline: a check that
            # fails it is a bug of Genesys (or a broken install), not a design result. Say so
            # loudly and keep the seed; its findings stay in the check result.
            self.bus.emit(
                ev.LoopError(
                    message=f"bug: the library seed {design_id} failed the checker "
                    f"({check.summary}); seeds are kept and verified all the same. Please report "
                    f"this with the check result (genesys show --namespace NS {design_id})",
                    design=design_id,
                )
            )
            summary = f"library seed, kept although the checker said: {check.summary}"
            check = dataclasses.replace(check, ok=True, summary=summary)
        record = self.repo.attach(design_id, "check", check.to_note())
        member.status = record.status
        fp = check.fingerprint
        if check.ok and hasattr(self.designer, "pool"):
            self.designer.pool.add(self.repo.read_design(design_id))
        if check.ok and fp:
            dup = self.population.find_functional(fp, exclude=design_id)
            member.functional, member.duplicate_of = fp, dup or ""
            novelty = NoveltyResult(member.structural, fp, dup or "")
            self.repo.attach(design_id, "novelty", novelty.to_note())
        self.bus.emit(
            ev.CheckFinished(
                design=design_id, ok=check.ok, summary=check.summary[:300], seconds=result.seconds
            )
        )

    def verify(self, design_id: str, rung: str, result: JobResult) -> None:
        """Attach a verification's ``RungResult`` (decoded from the worker's JSON) as
        ``rung:<rung>``, then the design's fitness; a job that died without a result is
        recorded as a failed rung with the job's error, and the rung is marked failed."""
        member = self.population.members[design_id]
        if result.ok and result.value is not None:
            rung_result = RungResult.from_wire(result.value)
        else:
            rung_result = RungResult.failed(result.error or "verification failed", result.seconds)
        if not rung_result.ok:
            reason = rung_result.reason or result.error or "verification failed"
            rung_result = dataclasses.replace(
                rung_result, seconds=float(result.seconds), reason=reason
            )
        member.rung_seconds[rung] = rung_result.seconds  # what the scheduler shares time by
        self.repo.attach(design_id, f"rung:{rung}", rung_result.to_note())
        if rung_result.ok:
            member.rung_scores[rung] = rung_result.scores.get("score", 0.0)
            member.rung_metrics[rung] = dict(rung_result.scores)
            fitness = self.population.fitness(member)
            if fitness is not None:
                self.repo.attach(
                    design_id,
                    "fitness",
                    {"value": fitness, "detail": {"rungs": member.rung_scores}},
                )
        else:
            member.failed_rungs.add(rung)
        member.status = self.repo.get(design_id).status
        self.bus.emit(
            ev.RungFinished(
                design=design_id,
                rung=rung,
                ok=rung_result.ok,
                bpb=rung_result.bpb,
                fitness=self.population.fitness(member) if rung_result.ok else None,
                reason=rung_result.reason[:300],
                seconds=result.seconds,
            )
        )

    def lost(self, kind: str, design_id: str, rung: str, error: BaseException) -> None:
        """A job of ``kind`` ("design", "check" or "verify") raised instead of returning a
        result: announce it, and mark a verification's rung failed so it is not scheduled again
        in this run. Nothing is attached, so a resume runs the job again."""
        self.bus.emit(ev.LoopError(message=f"{kind} job failed: {error}", design=design_id))
        if kind == "verify":
            self.population.members[design_id].failed_rungs.add(rung)
