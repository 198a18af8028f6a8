"""Dashboard benchmark: ``python -m genesys_tui.bench.dashboard [--designs 5000]``.

Builds a namespace of N designs with the store's API (the GPT seed, then mutations and one
crossover in ten, each checked; one in four with a first-rung result and a fitness), then drives
the dashboard headless with Textual's Pilot and prints:

- open: from creating the app to the first paint with the leaderboard filled (median of
  ``--runs`` fresh apps; wall seconds and the process's CPU seconds, which on a shared machine
  say more than the wall clock)
- key press round trips on the leaderboard with the Pilot (``press`` then ``pause``): ``down``
  (median and 95th percentile of ``--presses``), ``end`` (to the last row) and ``s`` (re-sort
  every row). The Pilot waits for the process to go idle three times per press, at least
  20 ms each, so the same ``down`` is also timed without those waits: the key event queued,
  every widget done with it, the screen repainted.

Targets (issue 10): open within 3 s, a key press within 100 ms, at 5,000 designs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from genesys_tui.bench.store import POPULATION, _cross, _mutate
from genesys_tui.resources import library_dir
from genesys_tui.store.library import import_library
from genesys_tui.store.repo import DesignsRepo


def build(path: Path, designs: int, seed: int = 0) -> None:
    """A namespace of ``designs`` designs descended from the GPT seed (see the module doc)."""
    rng = random.Random(seed)
    with DesignsRepo.create(path, seeds=False) as repo:
        (gpt,) = import_library(repo, [library_dir() / "gpt"])
        files = {gpt.id: repo.read_design_files(gpt.id)}
        recent = [gpt.id]
        for n in range(1, designs + 1):
            if len(recent) >= 2 and rng.random() < 0.1:
                pa, pb = rng.sample(recent, 2)
                child, parents, title = _cross(files[pa], files[pb], n), [pa, pb], f"Cross {pa}"
            else:
                pa = rng.choice(recent)
                child, what = _mutate(files[pa], rng, n)
                parents, title = [pa], f"Try {what}"
            record = repo.commit_design(
                child, parents=parents, designer="offline-mutator", title=title
            )
            repo.attach(record.id, "check", {"ok": True, "summary": "passed", "seconds": 0.1})
            if n % 4 == 0:
                bpb = round(rng.uniform(1.8, 2.4), 4)
                scores = {"score": 3.0 - bpb, "bpb": bpb, "eval/genblimp": rng.uniform(0.5, 0.7)}
                repo.attach(record.id, "rung:cpu-xs", {"scores": scores, "seconds": 30.0})
                repo.attach(record.id, "fitness", {"value": round(0.9 - bpb / 2.5, 4)})
            files[record.id] = child
            recent = [*recent, record.id][-POPULATION:]
            if len(files) > 4 * POPULATION:  # only recent designs can be parents
                for old in [k for k in files if k not in recent][:POPULATION]:
                    del files[old]


def run(path: Path, runs: int, presses: int) -> dict[str, Any]:
    from genesys_tui.tui.timing import drive

    results = [asyncio.run(drive(path, presses)) for _ in range(runs)]
    figures = {k: statistics.median(r[k] for r in results) for k in results[0]}
    figures["open_runs_s"] = [round(r["open_s"], 3) for r in results]
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m genesys_tui.bench.dashboard", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--designs", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3, help="fresh apps to open (median)")
    parser.add_argument("--presses", type=int, default=50, help="down presses to time")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dir", type=Path, help="build (or reuse) the namespace here")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = (args.dir or Path(tmp)) / "dashboard-bench"
        build_s = 0.0
        if not (path / ".git").is_dir():
            start = time.perf_counter()
            build(path, args.designs, args.seed)
            build_s = time.perf_counter() - start
        figures = run(path, args.runs, args.presses)
    figures["build_s"] = build_s
    if args.json:
        rounded = {k: v if isinstance(v, list) else round(v, 4) for k, v in figures.items()}
        print(json.dumps(rounded))
        return 0
    print(f"dashboard at {figures['rows']:,.0f} designs ({os.cpu_count()} CPUs)")
    print(
        f"  open (first paint, leaderboard filled)  {figures['open_s']:6.2f} s wall, "
        f"{figures['open_cpu_s']:.2f} s CPU   runs: {figures['open_runs_s']}"
    )
    print(
        f"  key down on the leaderboard             {figures['down_ms']:6.1f} ms median, "
        f"{figures['down_p95_ms']:.1f} ms p95, {figures['down_cpu_ms']:.1f} ms CPU"
    )
    print(
        f"  key down, handled and repainted         {figures['handled_ms']:6.1f} ms median, "
        f"{figures['handled_p95_ms']:.1f} ms p95 (no Pilot idle waits)"
    )
    print(f"  key end (last row)                      {figures['end_ms']:6.1f} ms")
    print(f"  key s (re-sort every row)               {figures['sort_ms']:6.1f} ms")
    if build_s:
        print(f"  (building the namespace took {build_s:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
