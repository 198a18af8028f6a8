"""The leaderboard: designs ranked by fitness, with what each has shown on the ladder and why
it ranks where it does (the fitness terms that add or take the most, ``evolve.terms``)."""

from __future__ import annotations

from dataclasses import dataclass

from genesys_tui.evolve.population import ABOVE_NOISE, Member, Population, format_lead
from genesys_tui.evolve.terms import Term, fitness_terms, why
from genesys_tui.scores import format_fitness

#: What a design that has no verified rung shows in place of a "why".
UNVERIFIED = {
    "proposed": "not checked yet",
    "checked": "passed the checker; not verified",
    "verified": "passed the checker; not verified",
    "rejected": "rejected by the checker",
    "failed": "the designer failed",
}


@dataclass(frozen=True)
class Row:
    design: str
    parents: str
    designer: str
    rungs: int  # rungs passed
    bpb: float | None  # bits per byte at the highest rung passed
    evaluation: float | None  # mean task accuracy at the highest rung passed
    fitness: float | None
    is_seed: bool
    status: str = ""  # the store's status (proposed, checked, verified, rejected, failed)
    why: str = ""  # the fitness terms that add or take the most, or the check status
    lead: str = ""  # at its highest rung: the margin over the best seed in sigma (format_lead)


def member_terms(population: Population, member: Member) -> list[Term]:
    """The terms of ``member``'s fitness against the library seeds of ``population``."""
    rungs = {r: member.rung_metrics.get(r, {}) for r in member.rung_scores}
    seeds = [m.rung_metrics for m in population.members.values() if m.is_seed]
    return fitness_terms(rungs, seeds)


def leaderboard(
    population: Population,
    designers: dict[str, str] | None = None,
    unverified: bool = False,
) -> list[Row]:
    """Verified designs, best fitness first; with ``unverified``, then every other design the
    run made (a run without verification has no other rows), with its check status."""
    rows = []
    base = population.baselines()
    for m in population.members.values():
        if not m.rung_scores:
            if unverified and not m.is_seed:
                dup = f"duplicate of {m.duplicate_of}" if m.duplicate_of else ""
                rows.append(
                    Row(m.id, ", ".join(m.parents) or "-", (designers or {}).get(m.id, ""), 0,
                        None, None, None, False, m.status, dup or UNVERIFIED.get(m.status, ""))
                )  # fmt: skip
            continue
        top = max(m.rung_scores, key=population.rungs.index)
        metrics = m.rung_metrics.get(top, {})
        evals = [v for k, v in metrics.items() if k.startswith("eval/")]
        rows.append(
            Row(
                m.id,
                ", ".join(m.parents) or "-",
                (designers or {}).get(m.id, ""),
                len(m.rung_scores),
                metrics.get("bpb"),
                sum(evals) / len(evals) if evals else None,
                population.fitness(m, base),
                m.is_seed,
                m.status,
                "" if m.is_seed else why(member_terms(population, m)),
                format_lead(population.seed_margins(m)),
            )
        )
    return sorted(
        rows,
        key=lambda r: (r.fitness is None, -(r.fitness or 0.0), r.status != "checked", r.design),
    )


def format_leaderboard(rows: list[Row], limit: int = 20,
                       sigmas: dict[str, float] | None = None) -> str:  # fmt: skip
    def num(x: float | None, fmt: str) -> str:
        return format(x, fmt) if x is not None else "-"

    lines = [
        f"{'design':<22} {'parents':<24} {'rungs':>5} {'bpb':>7} {'eval':>6} {'fitness':>8}  "
        f"{'against the seeds':<34}  why"
    ]
    for r in rows[:limit]:
        name = r.design + (" *" if r.is_seed else "")
        lines.append(
            f"{name:<22} {r.parents[:24]:<24} {r.rungs:>5} {num(r.bpb, '.4f'):>7} "
            f"{num(r.evaluation, '.3f'):>6} {format_fitness(r.fitness):>8}  {r.lead:<34}  "
            f"{r.why}".rstrip()
        )
    if len(rows) > limit:
        lines.append(f"... {len(rows) - limit} more")
    if any(r.is_seed for r in rows[:limit]):
        lines.append(
            "* library seed (baseline); fitness is the margin over the seeds' mean; why: the "
            "terms that add or take the most (bpb: bits per byte; tasks: skill over chance)"
        )
    if any(r.lead for r in rows[:limit]):
        noise = ", ".join(f"{rung} {sigma:.4f}" for rung, sigma in (sigmas or {}).items() if sigma)
        lines.append(
            "against the seeds: the score's margin over the best seed at the design's highest "
            f"rung, in sigma (the score's seed-to-seed deviation: {noise or 'not measured'}); "
            f"a seed is beaten only above {ABOVE_NOISE:g} sigma, inside that it is a tie"
        )
    return "\n".join(lines)
