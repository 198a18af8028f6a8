"""The evolution loop's own overhead per design, with N designs already in the namespace.

    python -m genesys_tui.bench.loop [--designs 1000] [--measure 50]

Fills a fresh namespace with N checked designs made by the offline designer, then times, for
``measure`` more designs, what the loop itself does around a design: select parents, the
novelty gate (structural hash and lookup), commit, attach, index, and schedule the next
verification. Designing (the offline designer's edit), checking and training are timed apart or
not at all: they are the designer's and the workers' cost, not the loop's.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from genesys_tui.designer import DesignRequest, Parent, Proposal
from genesys_tui.draft import structural_hash
from genesys_tui.evolve.events import EventBus
from genesys_tui.evolve.loop import EvolutionLoop
from genesys_tui.evolve.offline import OfflineDesigner
from genesys_tui.evolve.pool import UnitPool
from genesys_tui.evolve.runner import LocalRunner
from genesys_tui.evolve.schedule import next_verification
from genesys_tui.evolve.settings import EvolveConfig
from genesys_tui.store.repo import DesignsRepo

RUNGS = ["cpu-xs", "cpu-s", "cpu-m"]


def fill(repo: DesignsRepo, designer: OfflineDesigner, n: int, seed: int = 0) -> None:
    """Commit ``n`` offline designs, each checked, to ``repo``."""
    rng = random.Random(seed)
    ids = [r.id for r in repo.records()]
    designs = {i: repo.read_design(i) for i in ids}
    made = 0
    while made < n:
        pid = rng.choice(ids)
        out = designer.design(
            DesignRequest("mutation", (Parent(pid, designs[pid]),), seed=rng.getrandbits(32))
        )
        if not isinstance(out, Proposal):
            continue
        files = {"design.json": out.design.to_json(), **out.design.sources, **out.files}
        rec = repo.commit_design(files, parents=[pid], designer=designer.name, title=out.title)
        repo.attach(rec.id, "check", {"ok": True, "summary": "passed"})
        repo.attach(rec.id, "novelty", {"structural": structural_hash(out.design)})
        ids.append(rec.id)
        designs[rec.id] = out.design
        made += 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--designs", type=int, default=1000)
    ap.add_argument("--measure", type=int, default=50)
    args = ap.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="genesys-bench-loop-"))
    try:
        return _bench(root, args)
    finally:
        shutil.rmtree(root, ignore_errors=True)  # 5+ MB per run otherwise, Ctrl-C included


def _bench(root: Path, args: argparse.Namespace) -> int:
    designer = OfflineDesigner(UnitPool.library())
    t0 = time.perf_counter()
    with DesignsRepo.create(root / "bench") as repo:
        fill(repo, designer, args.designs)
    print(f"filled {args.designs} designs in {time.perf_counter() - t0:.1f} s")

    repo = DesignsRepo.open(root / "bench", writer=True)
    config = EvolveConfig(namespace="bench", max_designs=args.designs + args.measure + 10)
    runner = LocalRunner(root / "jobs", {"design": 1, "verify": 1}, preload=())
    loop = EvolutionLoop(repo, designer, runner, config, RUNGS, EventBus())
    t0 = time.perf_counter()
    loop.load()
    load_s = time.perf_counter() - t0
    loop._submit_check = lambda design_id: None  # type: ignore[method-assign]  # no checking
    overhead, designing = [], []
    for n in range(args.measure):
        t0 = time.perf_counter()
        choice = loop.selector.select(
            loop.population.candidates(), loop.population.made, random.Random(n)
        )
        t1 = time.perf_counter()
        choice, out = loop._design(choice, loop.population.made)
        t2 = time.perf_counter()
        loop._handle_design(choice, out)
        next_verification(loop.population.progress(), RUNGS, loop.budgets, set())
        t3 = time.perf_counter()
        designing.append(t2 - t1)
        overhead.append((t1 - t0) + (t3 - t2))
    repo.close()
    runner.shutdown()
    loop.close()
    print(
        f"namespace: {len(loop.population.members)} designs; loading the population "
        f"(start or resume): {load_s:.2f} s"
    )
    print(
        f"loop overhead per design (selection, novelty gate, commit, attach, index, "
        f"scheduling): median {statistics.median(overhead) * 1e3:.1f} ms, "
        f"max {max(overhead) * 1e3:.1f} ms over {args.measure} designs"
    )
    print(
        f"offline designer per design (reading parents, editing the tree): median "
        f"{statistics.median(designing) * 1e3:.1f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
