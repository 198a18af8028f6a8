"""The recorder: what the loop's jobs produced, written to the repository and the population.

The designs repository is the record (commits and attached results); the population is the
loop's in-memory view of it, rebuilt from the repository on start and resume. The recorder keeps
the two in step: it commits each designer's answer, attaches each check and rung result, updates
the matching member, and announces each step on the event bus. It runs on the loop's controller
thread only, so the repository keeps a single writer. Starting jobs is the loop's business: the
recorder only says which design is due a check.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from genesys_tui.designer import Designer, DesignFailure, Proposal
from genesys_tui.draft import structural_hash
from genesys_tui.evolve import events as ev
from genesys_tui.evolve.population import Population, member_from_store
from genesys_tui.evolve.runner import JobResult
from genesys_tui.evolve.selection import Choice


class Recorder:
    """Records designs, checks and verifications of one namespace; owns its ``population``.

    ``repo`` is the namespace's writable designs repository, ``rungs`` the ladder's rung names
    (smallest first), ``bus`` where events go, and ``designer`` the designer whose name goes on
    the commits (and whose unit ``pool``, if it has one, learns from each design that passes
    its check).
    """

    def __init__(
        self, repo: Any, rungs: Sequence[str], bus: ev.EventBus, designer: Designer
    ) -> None:
        self.repo = repo
        self.rungs = list(rungs)
        self.bus = bus
        self.designer = designer
        self.population = Population(self.rungs)

    def load(self) -> None:
        """Rebuild the population from the repository (start and resume)."""
        self.population = Population(self.rungs)
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
        self.repo.attach(record.id, "novelty", {"structural": h, "duplicate_of": dup or ""})
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
        """Attach a check's result (``ok``, ``summary``, ``findings``, ``seconds``); a design
        that passed gets its functional fingerprint compared with the others' (novelty)."""
        value = result.value or {}
        ok = bool(result.ok and value.get("ok"))
        summary = value.get("summary") or result.error or "check failed"
        member = self.population.members[design_id]
        if not ok and member.is_seed:
            # A library seed is a trusted reference and every rung's baseline: a check that
            # fails it is a bug of Genesys (or a broken install), not a design result. Say so
            # loudly and keep the seed; its findings stay in the check result.
            self.bus.emit(
                ev.LoopError(
                    message=f"bug: the library seed {design_id} failed the checker ({summary}); "
                    "seeds are kept and verified all the same. Please report this with the "
                    "check result (genesys show --namespace NS " + design_id + ")",
                    design=design_id,
                )
            )
            summary = f"library seed, kept although the checker said: {summary}"
            ok = True
        payload = {
            "ok": ok,
            "summary": summary[:2000],
            "findings": value.get("findings", []),
            "seconds": float(value.get("seconds", result.seconds)),
        }
        record = self.repo.attach(design_id, "check", payload)
        member.status = record.status
        fp = value.get("fingerprint", "")
        if ok and hasattr(self.designer, "pool"):
            self.designer.pool.add(self.repo.read_design(design_id))
        if ok and fp:
            dup = self.population.find_functional(fp, exclude=design_id)
            member.functional, member.duplicate_of = fp, dup or ""
            self.repo.attach(
                design_id,
                "novelty",
                {"structural": member.structural, "functional": fp, "duplicate_of": dup or ""},
            )
        self.bus.emit(
            ev.CheckFinished(design=design_id, ok=ok, summary=summary[:300], seconds=result.seconds)
        )

    def verify(self, design_id: str, rung: str, result: JobResult) -> None:
        """Attach a verification's result as ``rung:<rung>``: on success the scores, seconds,
        tokens, parameters and a detail with the evaluations, the thinned loss curve and the
        verifier's notes, then the design's fitness; on failure the reason, and the rung is
        marked failed."""
        value = result.value or {}
        member = self.population.members[design_id]
        ok = bool(result.ok and value.get("ok"))
        seconds = float(value.get("seconds", result.seconds)) if ok else float(result.seconds)
        member.rung_seconds[rung] = seconds  # what the scheduler shares time by
        if ok:
            scores = {k: float(v) for k, v in value.get("scores", {}).items()}
            self.repo.attach(
                design_id,
                f"rung:{rung}",
                {
                    "scores": scores,
                    "seconds": seconds,
                    "tokens": int(value.get("tokens", 0)),
                    "params": int(value.get("params", 0)),
                    "detail": {
                        "ok": True,
                        "evals": value.get("evals", {}),
                        "curve": value.get("curve", []),
                        "notes": value.get("notes", []),
                    },
                },
            )
            member.rung_scores[rung] = scores.get("score", 0.0)
            member.rung_metrics[rung] = scores
            fitness = self.population.fitness(member)
            if fitness is not None:
                self.repo.attach(
                    design_id,
                    "fitness",
                    {"value": fitness, "detail": {"rungs": member.rung_scores}},
                )
        else:
            reason = value.get("reason") or result.error or "verification failed"
            self.repo.attach(
                design_id,
                f"rung:{rung}",
                {
                    "scores": {},
                    "seconds": seconds,
                    "detail": {"ok": False, "reason": reason[:2000]},
                },
            )
            member.failed_rungs.add(rung)
        member.status = self.repo.get(design_id).status
        self.bus.emit(
            ev.RungFinished(
                design=design_id,
                rung=rung,
                ok=ok,
                bpb=value.get("scores", {}).get("bpb") if ok else None,
                fitness=self.population.fitness(member) if ok else None,
                reason="" if ok else str(value.get("reason") or result.error)[:300],
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
