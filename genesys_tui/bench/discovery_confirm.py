"""The discovery benchmark's second look at its top rung (``bench.discovery --complete-seeds``
and ``--confirm K``): the seeds the loop did not verify there, and the best grown design against
every seed over several training seeds."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genesys_tui.bench.discovery_report import discovery_table, namespace_path, read_population
from genesys_tui.errors import GenesysError
from genesys_tui.evolve.population import Population

if TYPE_CHECKING:
    from genesys_tui.study.compare import Runs


def confirm(args: argparse.Namespace, namespace: str) -> Any:
    """The top rung's best grown design against every seed with runs there (in the namespace or
    the ``--against`` files), over training seeds. It and the best seed are brought to
    ``args.confirm`` + 1 runs each (the loop's own, those kept in the namespace or stored in
    the files, then the lowest training seeds each lacks, trained ``--workers`` at a time and
    kept in the namespace as each finishes: ``repeats:<rung>``) and the means are compared
    (``study.compare``). The rung's own sigma measures the noise; where it has none, the pooled
    spread of these runs does. None when no rung holds both a grown design and a seed."""
    from genesys_tui import wall
    from genesys_tui.study.climb import keep_run, verify_files, writable
    from genesys_tui.study.compare import (
        Runs,
        compare,
        format_compare,
        gather_runs,
        merge_runs,
        read_runs,
        run_all,
        seeds_to_train,
        unbiased_runs,
    )
    from genesys_tui.study.noise import pooled_std

    path = namespace_path(args.designs_dir, namespace)
    population = read_population(path, args.ladder)
    row = next((r for r in reversed(discovery_table(population)) if r.best_grown and r.best_seed),
               None)  # fmt: skip
    if row is None:
        print("no rung holds both a grown design and a seed: nothing to confirm")
        return None
    rung = row.rung
    trained = (row.best_grown, row.best_seed)
    label, files, own = _namespace_runs(path, population, trained, rung, args.seed)
    seeds = {label[m.id] for m in population.members.values() if m.is_seed}
    stored = [r for file in args.against for r in read_runs(file)]
    gathered = gather_runs(own, seeds, stored, rung)
    wall.configure(sandbox=not args.no_sandbox)
    jobs = [(design_id, seed) for design_id in trained
            for seed in seeds_to_train(set(gathered[label[design_id]].scores), args.confirm + 1)]
    if jobs:
        writable(path)  # before hours of training whose runs are kept in the namespace

    def train(design_id: str, seed: int) -> Runs:
        result = verify_files(files[design_id], rung, ladder=args.ladder, seed=seed, threads=1)
        if not result.ok or result.score is None:
            raise GenesysError(f"{design_id} at {rung}, training seed {seed}: {result.reason}")
        # Printed before it is kept: should keeping fail, the figure is still on record.
        print(f"  {design_id} at {rung}, training seed {seed}: {result.score:.4f}", flush=True)
        keep_run(path, design_id, rung, seed, result)
        return Runs(label[design_id], rung, {seed: result.score},
                    numerics={seed: result.numerics} if result.numerics else {})  # fmt: skip

    runs = merge_runs([*gathered.values(), *run_all(jobs, train, args.workers).values()])
    sigma, source = row.sigma, f"the rung's score_sigma {row.sigma:.4f}"
    if not sigma:
        pooled = pooled_std({design: r.scores for design, r in runs.items()})
        sigma, source = pooled.std, f"pooled over these runs ({pooled.n} dof), {pooled.std:.4f}"
    leader = runs.pop(row.best_grown)
    kept, note = unbiased_runs(leader.scores, args.seed, row.verified)
    candidate = dataclasses.replace(leader, scores=kept, source="")
    baselines = [dataclasses.replace(r, source="") for _, r in sorted(runs.items())]
    study = compare(candidate, baselines, sigma,
                    sigma_from=source, note=note)  # fmt: skip
    print(format_compare(study))
    return study


def _namespace_runs(path: Path, population: Population, trained: tuple[str, ...], rung: str,
                    seed: int) -> tuple[dict[str, str], dict[str, dict[str, str]], dict[str, Runs]]:
    """From one look at the namespace: each member's label (a seed by its library name), the
    design files of the ``trained`` designs (the grown one first), and the runs at ``rung`` of
    the seeds and of the grown design by label (the loop's own run has the run's seed ``seed``,
    further runs theirs), each run with its numerics."""
    from genesys_tui.results import repeat_runs, rung_results
    from genesys_tui.store import DesignsRepo
    from genesys_tui.study.compare import Runs, merge_runs

    compared = [m for m in population.members.values() if m.is_seed or m.id == trained[0]]
    with DesignsRepo.open(path) as repo:
        records = {r.id: r for r in repo.records()}
        results = {m.id: repo.results(m.id) for m in compared}
        files = {d: repo.read_design_files(d) for d in trained}
    label = {m.id: records[m.id].name if m.is_seed else m.id for m in population.members.values()}
    runs = []  # further runs first: merged last, the loop's own run of a seed wins
    for design_id, res in results.items():
        if (repeats := repeat_runs(res).get(rung)) is not None:
            runs.append(Runs(label[design_id], rung, dict(repeats.scores),
                             numerics=dict(repeats.numerics)))  # fmt: skip
    for m in compared:
        if rung in m.rung_scores:
            own = rung_results(results[m.id]).get(rung)
            runs.append(Runs(label[m.id], rung, {seed: m.rung_scores[rung]},
                             numerics={seed: own.numerics} if own and own.numerics else {}))
    runs_by_label = merge_runs(runs)
    return label, files, runs_by_label


def complete_seeds(args: argparse.Namespace, namespace: str) -> list[str]:
    """Verify, at the highest rung where a grown design has a score, the seeds that have none
    there, with the run's training seed (``--seed``), as ``genesys study climb`` would; the
    seeds verified. The loop promotes only the best seed of a rung, so without this the top
    rung's row compares the grown designs with that one seed alone."""
    from genesys_tui import wall
    from genesys_tui.study.climb import climb

    path = namespace_path(args.designs_dir, namespace)
    population = read_population(path, args.ladder)
    top = next((r.rung for r in reversed(discovery_table(population)) if r.best_grown), None)
    if top is None:
        print("no grown design was verified: no seeds to complete")
        return []
    missing = sorted(m.id for m in population.members.values()
                     if m.is_seed and top not in m.rung_scores)  # fmt: skip
    if not missing:  # (climb's empty selection means every design)
        print(f"{top}: every seed is verified there")
        return []
    print(f"{top}: verifying the seeds {', '.join(missing)} with training seed {args.seed}")
    wall.configure(sandbox=not args.no_sandbox)
    climb(path, top, designs=missing, ladder=args.ladder, seed=args.seed,
          on_result=lambda d, r: print(f"  {d}: {r.score if r.ok else r.reason}"))  # fmt: skip
    return missing
