"""The discovery benchmark's table (``bench.discovery``): per rung of a namespace, the best seed,
the best grown design and its margin in units of the rung's noise sigma, read from the designs
repository alone."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from genesys_tui.errors import GenesysError
from genesys_tui.evolve.population import ABOVE_NOISE, Population


@dataclass(frozen=True)
class RungRow:
    rung: str
    sigma: float  # the rung's score noise; 0: not measured
    verified: int  # grown designs verified at the rung
    seeds: int  # library seeds verified at the rung
    best_seed: str
    best_seed_score: float | None
    best_grown: str
    best_grown_score: float | None
    margin: float | None  # best grown minus best seed
    margin_sigma: float | None  # that margin in sigma; None where sigma is not measured
    beating_all: int  # grown designs beating every seed verified here by > ABOVE_NOISE sigma


def discovery_table(population: Population) -> list[RungRow]:
    """One row per rung of ``population`` where anything was verified, cheapest first."""
    rows = []
    for rung in population.rungs:
        at = [m for m in population.members.values() if rung in m.rung_scores]
        if not at:
            continue
        seeds = [m for m in at if m.is_seed]
        grown = [m for m in at if not m.is_seed]
        sigma = population.sigmas.get(rung, 0.0)
        best_seed = max(seeds, key=lambda m: m.rung_scores[rung], default=None)
        best_grown = max(grown, key=lambda m: m.rung_scores[rung], default=None)
        margin = margin_sigma = None
        if best_seed is not None and best_grown is not None:
            margin = best_grown.rung_scores[rung] - best_seed.rung_scores[rung]
            margin_sigma = margin / sigma if sigma > 0 else None
        beating = 0
        if seeds and sigma > 0:
            beating = sum(
                all(m.verdict == "beats" for m in population.seed_margins(g, rung)) for g in grown
            )
        rows.append(RungRow(
            rung, sigma, len(grown), len(seeds),
            best_seed.id if best_seed else "", best_seed.rung_scores[rung] if best_seed else None,
            best_grown.id if best_grown else "",
            best_grown.rung_scores[rung] if best_grown else None,
            margin, margin_sigma, beating,
        ))  # fmt: skip
    return rows


def format_table(rows: list[RungRow]) -> str:
    def num(x: float | None, fmt: str) -> str:
        return "-" if x is None else format(x, fmt)

    head = (f"{'rung':<8} {'sigma':>6} {'grown':>5} {'best seed':<22} {'score':>7} "
            f"{'best grown':<24} {'score':>7} {'margin':>8} {'in sigma':>8} "
            f"{'beat all':>8}")  # fmt: skip
    lines = [head]
    for r in rows:
        lines.append(
            f"{r.rung:<8} {num(r.sigma or None, '.4f'):>6} {r.verified:>5} "
            f"{(r.best_seed or '-')[:22]:<22} {num(r.best_seed_score, '.4f'):>7} "
            f"{(r.best_grown or '-')[:24]:<24} {num(r.best_grown_score, '.4f'):>7} "
            f"{num(r.margin, '+.4f'):>8} {num(r.margin_sigma, '+.1f'):>8} {r.beating_all:>8}"
        )
    lines.append(
        "beat all: grown designs whose score beats every seed verified at the rung by more "
        f"than {ABOVE_NOISE:g} sigma (none is counted where sigma is not measured)"
    )
    return "\n".join(lines)


def read_population(path: Path, ladder: str) -> Population:
    """The population of the namespace at ``path`` (read only), with the ladder's sigmas."""
    from genesys_tui.evolve.population import member_from_store
    from genesys_tui.ladder import load_ladder
    from genesys_tui.store import DesignsRepo

    lad = load_ladder(ladder)
    pop = Population([r.name for r in lad], lad.sigmas)
    with DesignsRepo.open(path) as repo:
        for record in repo.records():
            pop.add(member_from_store(record, repo.results(record.id)))
    return pop


def namespace_path(designs_dir: Path | None, namespace: str) -> Path:
    """The namespace's repository under ``designs_dir`` (default: ``store.designs_root``); an
    error naming it where there is none."""
    from genesys_tui.store import designs_root

    path = (designs_dir or designs_root()) / namespace
    if not (path / ".git").is_dir():
        raise GenesysError(f"no namespace {namespace!r} at {path}")
    return path
