"""The leaderboard: designs ranked by fitness, with what each has shown on the ladder."""

from __future__ import annotations

from dataclasses import dataclass

from genesys_tui.evolve.population import Population
from genesys_tui.scores import format_fitness


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


def leaderboard(population: Population, designers: dict[str, str] | None = None) -> list[Row]:
    rows = []
    base = population.baselines()
    for m in population.members.values():
        if not m.rung_scores:
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
            )
        )
    return sorted(rows, key=lambda r: (r.fitness is None, -(r.fitness or 0.0), r.design))


def format_leaderboard(rows: list[Row], limit: int = 20) -> str:
    def num(x: float | None, fmt: str) -> str:
        return format(x, fmt) if x is not None else "-"

    lines = [f"{'design':<22} {'parents':<24} {'rungs':>5} {'bpb':>7} {'eval':>6} {'fitness':>8}"]
    for r in rows[:limit]:
        name = r.design + (" *" if r.is_seed else "")
        lines.append(
            f"{name:<22} {r.parents[:24]:<24} {r.rungs:>5} {num(r.bpb, '.4f'):>7} "
            f"{num(r.evaluation, '.3f'):>6} {format_fitness(r.fitness):>8}"
        )
    if any(r.is_seed for r in rows[:limit]):
        lines.append("* library seed (baseline); fitness is the margin over the seeds' mean")
    return "\n".join(lines)
