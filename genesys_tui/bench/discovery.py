"""The discovery benchmark (issue 14): does the loop find designs that beat the library seeds?

    python -m genesys_tui.bench.discovery --hours 2 --seed 1 --out runs/discovery-s1.json
    python -m genesys_tui.bench.discovery --hours 1 --seed 1 --resume --out runs/discovery-s1.json
    python -m genesys_tui.bench.discovery --hours 2 --seed 1 --designer anthropic:MODEL ...

Runs the evolution loop from an empty namespace (``discovery-s<SEED>`` unless ``--namespace``)
for ``--hours`` of wall time on this machine, then prints, per rung: the designs verified there,
the best seed, the best grown design, its margin over the best seed in units of the rung's
noise sigma (``Rung.score_sigma``), and how many grown designs beat every seed verified there by
more than 2 sigma. ``--resume`` continues the namespace; the hours of every invocation add up in
the JSON (``hours_total``). The table is read from the designs repository alone, so it can be
rebuilt at any time with ``--report``.

One training seed a side is not enough at cpu-s, where one design's score moves between
training seeds by more than the leads the loop finds. ``--confirm K`` then brings the best grown
design of the top rung, and the best seed there, to K + 1 runs each (runs kept in the namespace
or stored in ``--against`` files count; the rest are trained walled, as the loop verifies, and
kept in the namespace as they finish, so a confirmation stopped half way continues), reads the
other seeds' runs from the namespace and those files (noise studies or a pooled noise file),
and compares the means
(``study.compare``): the run's claim is confirmed only when the grown design beats every seed
by more than 2 standard errors of the difference.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from genesys_tui.errors import GenesysError
from genesys_tui.evolve.population import ABOVE_NOISE, Population

FORMAT = 1


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


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hours", type=float, default=2.0, help="wall hours to run the loop")
    p.add_argument("--seed", type=int, default=0, help="the loop's seed")
    p.add_argument("--designer", default="offline",
                   help="offline, learning, learning:NS[,NS...], anthropic:MODEL, ...")  # fmt: skip
    p.add_argument("--runner", default="local", help="local, ray or ray:ADDRESS")
    p.add_argument("--namespace", default=None, help="default: discovery-s<SEED>")
    p.add_argument("--designs-dir", type=Path, default=None, help="where namespaces live")
    p.add_argument("--ladder", default="cpu", help="cpu, paper or a ladder TOML file")
    p.add_argument("--max-rungs", type=int, default=0, help="climb at most this many rungs")
    p.add_argument("--max-designs", type=int, default=60, help="designs the namespace may hold")
    p.add_argument("--resume", action="store_true", help="continue the namespace")
    p.add_argument("--report", action="store_true", help="only print the table of the namespace")
    p.add_argument(
        "--halving", type=float, default=0.0, metavar="F",
        help="stop losing verifications at F of their steps (evolve.halving; 0: off)",
    )  # fmt: skip
    p.add_argument(
        "--complete-seeds", action="store_true",
        help="then verify, at the top rung a grown design reached, every seed the loop did not "
             "verify there (with the run's training seed), so that rung's row compares the grown "
             "designs with all the seeds; with --report, only this",
    )  # fmt: skip
    p.add_argument(
        "--confirm", type=int, default=0, metavar="K",
        help="then bring the top rung's best grown design and best seed to K + 1 training seeds "
             "each and compare the means with every seed's (with --report, only this)",
    )  # fmt: skip
    p.add_argument(
        "--against", nargs="*", default=[], metavar="FILE",
        help="stored runs of the seeds at the top rung for --confirm (noise studies or a "
             "pooled noise file, e.g. docs/studies/noise-cpu-s-pooled.json)",
    )  # fmt: skip
    p.add_argument(
        "--backlog", type=int, default=8, metavar="N",
        help="the designer waits while N checked designs await their first verification (0: off)",
    )  # fmt: skip
    p.add_argument("--workers", type=int, default=1,
                   help="verifications at once (as evolve's), and --confirm's runs at once")
    p.add_argument("--no-sandbox", action="store_true", help="run designs without the wall")
    p.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    namespace = args.namespace or f"discovery-s{args.seed}"
    previous: dict[str, Any] = {}  # the figures a --resume or --report adds to
    if args.out is not None and args.out.is_file() and (args.resume or args.report):
        previous = json.loads(args.out.read_text())
    confirmed = None
    try:
        if args.hours <= 0 and not args.report:
            raise GenesysError(f"--hours must be positive, got {args.hours}")
        if args.confirm < 0:
            raise GenesysError(f"--confirm must be 0 or more training seeds, got {args.confirm}")
        if args.confirm:
            from genesys_tui.study.compare import read_runs

            for path in args.against:  # unreadable files fail before anything runs
                read_runs(path)
        seconds, reason = 0.0, "report only"
        if not args.report:
            for change in changed_settings(previous, args):
                print(f"note: this sitting changes {change} (the run file records each "
                      "sitting's settings)", file=sys.stderr)  # fmt: skip
            seconds, reason = _run(args, namespace, previous)
        if args.complete_seeds:
            complete_seeds(args, namespace)
        if args.confirm:
            confirmed = confirm(args, namespace)
        rows = discovery_table(read_population(_namespace_path(args, namespace), args.ladder))
    except GenesysError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = _figures(args, namespace, rows, seconds, previous, reason, ran=not args.report)
    if confirmed is not None:
        out["confirm"] = json.loads(confirmed.to_json())
    elif "confirm" in previous:  # kept until confirmed again (it names its candidate)
        out["confirm"] = previous["confirm"]
    print(f"{namespace}: {out['hours_total']:.2f} h in all ({reason})")
    print(format_table(rows))
    if args.out is not None:
        _write(args.out, out)
    return 0


def confirm(args: argparse.Namespace, namespace: str) -> Any:
    """The top rung's best grown design against every seed with runs there (in the namespace or
    the ``--against`` files), over training seeds. It and the best seed are brought to
    ``args.confirm`` + 1 runs each (the loop's own, those kept in the namespace or stored in
    the files, then the lowest training seeds each lacks, trained ``--workers`` at a time and
    kept in the namespace as each finishes: ``repeats:<rung>``) and the means are compared
    (``study.compare``). The rung's own sigma measures the noise; where it has none, the pooled
    spread of these runs does. None when no rung holds both a grown design and a seed."""
    from genesys_tui import wall
    from genesys_tui.results import repeat_runs
    from genesys_tui.store import DesignsRepo
    from genesys_tui.study.climb import keep_run, verify_files, writable
    from genesys_tui.study.compare import (
        Runs,
        compare,
        format_compare,
        gather_runs,
        read_runs,
        run_all,
        seeds_to_train,
        unbiased_runs,
    )
    from genesys_tui.study.noise import pooled_std

    path = _namespace_path(args, namespace)
    population = read_population(path, args.ladder)
    row = next((r for r in reversed(discovery_table(population)) if r.best_grown and r.best_seed),
               None)  # fmt: skip
    if row is None:
        print("no rung holds both a grown design and a seed: nothing to confirm")
        return None
    rung = row.rung
    with DesignsRepo.open(path) as repo:
        records = {r.id: r for r in repo.records()}
        files = {d: repo.read_design_files(d) for d in (row.best_grown, row.best_seed)}
        kept = {m.id: repeat_runs(repo.results(m.id)).get(rung) for m in population.members.values()
                if m.is_seed or m.id == row.best_grown}  # fmt: skip
    label = {m.id: records[m.id].name if m.is_seed else m.id for m in population.members.values()}
    scores = {label[m.id]: {args.seed: m.rung_scores[rung]} for m in population.members.values()
              if rung in m.rung_scores and (m.is_seed or m.id == row.best_grown)}  # fmt: skip
    for design_id, runs in kept.items():  # the loop's own run keeps its seed
        for seed, score in (runs.scores if runs else {}).items():
            scores.setdefault(label[design_id], {}).setdefault(seed, score)
    seeds = {label[m.id] for m in population.members.values() if m.is_seed}
    stored = [r for file in args.against for r in read_runs(file)]
    scores = gather_runs(scores, seeds, stored, rung)
    wall.configure(sandbox=not args.no_sandbox)
    jobs = [(design_id, seed) for design_id in (row.best_grown, row.best_seed)
            for seed in seeds_to_train(set(scores[label[design_id]]), args.confirm + 1)]
    if jobs:
        writable(path)  # before hours of training whose runs are kept in the namespace

    def train(design_id: str, seed: int) -> float:
        result = verify_files(files[design_id], rung, ladder=args.ladder, seed=seed, threads=1)
        if not result.ok or result.score is None:
            raise GenesysError(f"{design_id} at {rung}, training seed {seed}: {result.reason}")
        # Printed before it is kept: should keeping fail, the figure is still on record.
        print(f"  {design_id} at {rung}, training seed {seed}: {result.score:.4f}", flush=True)
        keep_run(path, design_id, rung, seed, result)
        return result.score

    for (design_id, seed), score in run_all(jobs, train, args.workers).items():
        scores[label[design_id]][seed] = score
    sigma, source = row.sigma, f"the rung's score_sigma {row.sigma:.4f}"
    if not sigma:
        pooled = pooled_std(scores)
        sigma, source = pooled.std, f"pooled over these runs ({pooled.n} dof), {pooled.std:.4f}"
    kept, note = unbiased_runs(scores.pop(row.best_grown), args.seed, row.verified)
    candidate = Runs(row.best_grown, rung, kept)
    study = compare(candidate, [Runs(n, rung, s) for n, s in sorted(scores.items())], sigma,
                    sigma_from=source, note=note)  # fmt: skip
    print(format_compare(study))
    return study


def complete_seeds(args: argparse.Namespace, namespace: str) -> list[str]:
    """Verify, at the highest rung where a grown design has a score, the seeds that have none
    there, with the run's training seed (``--seed``), as ``genesys study climb`` would; the
    seeds verified. The loop promotes only the best seed of a rung, so without this the top
    rung's row compares the grown designs with that one seed alone."""
    from genesys_tui import wall
    from genesys_tui.study.climb import climb

    path = _namespace_path(args, namespace)
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


def _namespace_path(args: argparse.Namespace, namespace: str) -> Path:
    from genesys_tui.store import designs_root

    path = (args.designs_dir or designs_root()) / namespace
    if not (path / ".git").is_dir():
        raise GenesysError(f"no namespace {namespace!r} at {path}")
    return path


#: The loop settings each sitting of a run records (``sittings`` in the run file), so that a
#: run resumed with other settings says so: the arguments' names.
SITTING_SETTINGS = ("workers", "halving", "backlog", "max_designs", "max_rungs", "runner")


def changed_settings(previous: dict[str, Any], args: argparse.Namespace) -> list[str]:
    """``--workers 1 -> 2`` for each loop setting of ``args`` that differs from the last
    sitting recorded in ``previous`` (a run file); none for a run file without sittings."""
    sittings = previous.get("sittings") or []
    if not sittings:
        return []
    last = sittings[-1]
    return [f"--{name.replace('_', '-')} {last[name]} -> {getattr(args, name)}"
            for name in SITTING_SETTINGS
            if name in last and last[name] != getattr(args, name)]  # fmt: skip


def _figures(
    args: argparse.Namespace, namespace: str, rows: list[RungRow], seconds: float,
    previous: dict[str, Any], reason: str, ran: bool,
) -> dict[str, Any]:  # fmt: skip
    """The run file: ``previous``'s hours and sittings, plus this invocation's when it ran
    the loop (``ran``), and the table."""
    sittings = list(previous.get("sittings") or [])
    if ran:
        sittings.append({"hours": seconds / 3600, "ended": reason,
                         **{name: getattr(args, name) for name in SITTING_SETTINGS}})  # fmt: skip
    before = float(previous.get("hours_total", 0.0))
    return {
        "format": FORMAT, "namespace": namespace, "seed": args.seed, "designer": args.designer,
        "ladder": args.ladder, "hours": seconds / 3600, "hours_total": before + seconds / 3600,
        "ended": reason, "sittings": sittings, "rungs": [asdict(r) for r in rows],
        "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }  # fmt: skip


def _write(path: Path, figures: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


PROGRESS_SECONDS = 300.0  # how often a run rewrites --out while it runs


def _progress(
    args: argparse.Namespace, namespace: str, previous: dict[str, Any], t0: float,
    done: threading.Event,
) -> None:
    """Rewrite ``--out`` every PROGRESS_SECONDS while the loop runs ("ended": "running"), so a
    run killed with its session (SIGKILL, a machine going away) keeps its hours and table and a
    ``--resume`` adds to them."""
    while not done.wait(PROGRESS_SECONDS):
        try:
            rows = discovery_table(read_population(_namespace_path(args, namespace), args.ladder))
            _write(args.out, _figures(args, namespace, rows, time.monotonic() - t0, previous,
                                      "running", ran=True))  # fmt: skip
        except Exception as exc:  # a progress write never stops the run
            print(f"warning: progress not written: {exc}", file=sys.stderr)


def _run(
    args: argparse.Namespace, namespace: str, previous: dict[str, Any]
) -> tuple[float, str]:
    """Run the loop for ``args.hours``; (seconds it ran, why it ended)."""
    from genesys_tui.evolve.session import open_run
    from genesys_tui.evolve.settings import EvolveConfig

    config = EvolveConfig(
        namespace=namespace, designer=args.designer, ladder=args.ladder, seed=args.seed,
        max_designs=args.max_designs, max_rungs=args.max_rungs,
        max_wall_seconds=args.hours * 3600, sandbox=not args.no_sandbox, halving=args.halving,
        runner=args.runner, backlog=args.backlog, verify_workers=args.workers,
    )  # fmt: skip
    t0 = time.monotonic()
    handle = open_run(config, resume=args.resume, root=args.designs_dir)
    done = threading.Event()
    writer = threading.Thread(
        target=_progress, args=(args, namespace, previous, t0, done), daemon=True
    )
    if args.out is not None:
        writer.start()
    try:
        reason = handle.loop.run()
    except KeyboardInterrupt:  # Ctrl-C: what was verified stays; --resume continues
        handle.loop.stop(abandon=True)
        reason = "interrupted"
    finally:
        done.set()
        if writer.is_alive():
            writer.join()  # no progress write races the final one
        handle.close()
    return time.monotonic() - t0, reason


if __name__ == "__main__":
    raise SystemExit(main())
