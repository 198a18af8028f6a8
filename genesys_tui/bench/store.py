"""Scale benchmark of the designs store: ``python -m genesys_tui.bench.store [--designs 10000]``.

Creates a namespace (the library seeds, then N designs evolved from the GPT seed: each a real,
loadable design directory with one argument changed, a quarter of them with an edited unit file,
one in ten a crossover of two recent designs), attaches a check result to each, and prints:

- commit + index, ms per design (amortized: validation, objects, tag, batched index writes)
- attach, ms per result (a notes commit + index row)
- index open, s (read-only ``DesignIndex``: parse + validate every row)
- ``genesys log`` and ``genesys log --graph``, s (the whole command in a fresh process, output
  discarded; median of ``--runs``)
- ``genesys index rebuild``, s (the whole command)

Parents are drawn by a seeded generator from the 64 most recent designs, so the family graph
has the width of a real population rather than one long chain.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from genesys_tui.resources import library_designs
from genesys_tui.store.index import DesignIndex
from genesys_tui.store.repo import DesignsRepo

POPULATION = 64


def _mutate(files: dict[str, str], rng: random.Random, n: int) -> tuple[dict[str, str], str]:
    data = json.loads(files["design.json"])
    units = data["units"]
    choice = rng.randrange(3)
    if choice == 0:
        units["mlp"]["args"]["expand"] = rng.randint(1, 16)
        what = f"MLP expand {units['mlp']['args']['expand']}"
    elif choice == 1:
        units["attn"]["args"]["n_heads"] = rng.choice([1, 2, 4, 8])
        what = f"{units['attn']['args']['n_heads']} attention heads"
    else:
        units["attn"]["args"]["rope_base"] = round(rng.uniform(500.0, 1e6), 1)
        what = f"rope base {units['attn']['args']['rope_base']}"
    out = dict(files)
    out["design.json"] = json.dumps(data, indent=2) + "\n"
    if rng.random() < 0.25:
        out["units/mlp.py"] = files["units/mlp.py"] + f"# variant {n}: a tweak to the MLP\n"
        what += " and an edited MLP unit"
    out["proposal.md"] = f"# Design {n}\n\nTry {what}; the parent did well on bpb.\n"
    return out, what


def _cross(a: dict[str, str], b: dict[str, str], n: int) -> dict[str, str]:
    data, other = json.loads(a["design.json"]), json.loads(b["design.json"])
    data["units"]["mlp"] = other["units"]["mlp"]
    out = dict(a)
    out["design.json"] = json.dumps(data, indent=2) + "\n"
    out["units/mlp.py"] = b["units/mlp.py"]
    out["proposal.md"] = f"# Design {n}\n\nAttention from the first parent, MLP from the second.\n"
    return out


def _cli_seconds(args: list[str], runs: int) -> tuple[float, float]:
    """Median wall seconds of a ``genesys`` command in a fresh process, and its CPU seconds
    (user + system, from the child's rusage): on a shared machine the two differ a lot."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "genesys_tui", *args], check=True, stdout=subprocess.DEVNULL
        )
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def run(designs: int, root: Path, seed: int, runs: int) -> dict[str, float]:
    rng = random.Random(seed)
    path = root / "bench"
    figures: dict[str, float] = {"designs": designs}
    with DesignsRepo.create(path) as repo:
        gpt = repo.get("gpt-1").id
        files = {gpt: repo.read_design_files(gpt)}
        recent = [gpt]
        commit_s = attach_s = commit_cpu = attach_cpu = 0.0
        for n in range(1, designs + 1):
            if len(recent) >= 2 and rng.random() < 0.1:
                pa, pb = rng.sample(recent, 2)
                child, parents = _cross(files[pa], files[pb], n), [pa, pb]
                title = f"Cross {pa} with {pb}"
            else:
                pa = rng.choice(recent)
                child, what = _mutate(files[pa], rng, n)
                parents, title = [pa], f"Try {what}"
            start, cpu0 = time.perf_counter(), time.process_time()
            record = repo.commit_design(
                child,
                parents=parents,
                designer="offline-mutator",
                title=title,
                summary="benchmark design",
            )
            mid, cpu1 = time.perf_counter(), time.process_time()
            repo.attach(record.id, "check", {"ok": True, "summary": "passed", "seconds": 0.1})
            attach_s += time.perf_counter() - mid
            attach_cpu += time.process_time() - cpu1
            commit_s += mid - start
            commit_cpu += cpu1 - cpu0
            files[record.id] = child
            recent = [*recent, record.id][-POPULATION:]
            if len(files) > 4 * POPULATION:  # keep memory flat: only recent designs can parent
                for old in [k for k in files if k not in recent][:POPULATION]:
                    del files[old]
        start = time.perf_counter()
    figures["close_s"] = time.perf_counter() - start
    figures["commit_index_ms"] = 1000 * commit_s / designs
    figures["attach_ms"] = 1000 * attach_s / designs
    figures["commit_index_cpu_ms"] = 1000 * commit_cpu / designs
    figures["attach_cpu_ms"] = 1000 * attach_cpu / designs
    start, cpu = time.perf_counter(), time.process_time()
    index = DesignIndex(path / ".git" / "genesys" / "index.json")
    figures["index_open_s"] = time.perf_counter() - start
    figures["index_open_cpu_s"] = time.process_time() - cpu
    start = time.perf_counter()
    count = len(index.records())
    figures["index_all_records_s"] = time.perf_counter() - start
    if count != designs + len(library_designs()):
        raise RuntimeError(f"the index holds {count} designs, expected {designs} + the seeds")
    figures.update(read_figures(path, runs))
    return figures


def read_figures(path: Path, runs: int) -> dict[str, float]:
    """Wall and CPU seconds of ``genesys log``, ``log --graph`` and ``index rebuild``."""
    figures = {}
    for name, args in [
        ("log", ["log"]),
        ("log_graph", ["log", "--graph"]),
        ("index_rebuild", ["index", "rebuild"]),
    ]:
        wall, cpu = _cli_seconds([*args, "--repo", str(path)], runs)
        figures[f"{name}_s"], figures[f"{name}_cpu_s"] = wall, cpu
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m genesys_tui.bench.store", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--designs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", type=int, default=3, help="runs of each CLI timing (median)")
    parser.add_argument("--dir", type=Path, help="keep the namespace here (default: a temp dir)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.dir:
        args.dir.mkdir(parents=True, exist_ok=True)
        figures = run(args.designs, args.dir, args.seed, args.runs)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            figures = run(args.designs, Path(tmp), args.seed, args.runs)
    if args.json:
        print(json.dumps({k: round(v, 4) for k, v in figures.items()}))
        return 0
    print(f"designs store at {args.designs:,} designs ({os.cpu_count()} CPUs)")
    print(
        f"  commit + index   {figures['commit_index_ms']:8.2f} ms/design, amortized "
        f"({figures['commit_index_cpu_ms']:.2f} ms of it CPU time of this process)"
    )
    print(
        f"  attach result    {figures['attach_ms']:8.2f} ms/result "
        f"({figures['attach_cpu_ms']:.2f} ms CPU)"
    )
    print(
        f"  index open       {figures['index_open_s']:8.3f} s "
        f"({figures['index_open_cpu_s']:.3f} s CPU)"
    )
    for name, label in [
        ("log", "genesys log"),
        ("log_graph", "log --graph"),
        ("index_rebuild", "index rebuild"),
    ]:
        print(f"  {label:<16} {figures[name + '_s']:8.3f} s ({figures[name + '_cpu_s']:.3f} s CPU)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
