"""What a runner costs per job: the local fork-server runner and the Ray runner side by side,
on this machine, in one run (issue 15).

    python -m genesys_tui.bench.runners --jobs 50
    python -m genesys_tui.bench.runners --jobs 50 --verify cpu-xs --json runners.json

Figures:

- ``overhead``: wall seconds from submitting a trivial job (``noop``, which returns at once)
  to holding its result, median and max over ``--jobs`` jobs run one after another; the first
  job of each runner is a warm-up and is not counted (the local runner starts its fork server,
  Ray its first worker). The two runners alternate job by job, so load falls on both alike.
- ``first result`` (with ``--verify RUNG``): seconds from submitting a verification of
  library/gpt at RUNG (``jobs.verify_host``: the walled cell, training, evaluation, the audit)
  to its result, on each runner once it is warm.

Ray joins ``--address`` (``auto`` or HOST:PORT) or starts a local instance with this machine's
cores.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

LIBRARY = Path(__file__).resolve().parents[2] / "library"
NOOP = "genesys_tui.bench.runners:noop"


def noop() -> int:
    """The trivial job: nothing to do, so its time is the runner's."""
    return 0


def _once(runner: Any, job: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = runner.submit(job).result()
    seconds = time.perf_counter() - t0
    if not result.ok:
        raise RuntimeError(f"{job.id} failed: {result.error}")
    return seconds, result


def _summary(seconds: list[float]) -> dict[str, float]:
    return {"median_ms": 1e3 * statistics.median(seconds), "max_ms": 1e3 * max(seconds),
            "jobs": len(seconds)}  # fmt: skip


def measure(jobs: int, verify: str, address: str) -> dict[str, Any]:
    from genesys_tui.evolve.ray_runner import RayRunner
    from genesys_tui.evolve.runner import Job, LocalRunner

    with tempfile.TemporaryDirectory(prefix="genesys-bench-runners-") as tmp:
        pools = {"design": 1, "verify": 1}
        runners = {
            "local": LocalRunner(Path(tmp, "local"), pools),
            "ray": RayRunner(address, Path(tmp, "ray"), pools),
        }
        try:
            nodes = [n.line() for n in runners["ray"].nodes()]
            out: dict[str, Any] = {"jobs": jobs, "nodes": nodes}
            times: dict[str, list[float]] = {name: [] for name in runners}
            for i in range(jobs + 1):
                for name, runner in runners.items():
                    job = Job(f"noop-{i}", NOOP, pool="design", timeout=120)
                    seconds, _ = _once(runner, job)
                    if i:  # job 0 warms the runner up
                        times[name].append(seconds)
            out["overhead"] = {name: _summary(t) for name, t in times.items()}
            if verify:
                out["first_result"] = {}
                for name, runner in runners.items():
                    kwargs = {"design_dir": str(LIBRARY / "gpt"), "rung": verify}
                    job = Job(f"verify-gpt-{verify}", "genesys_tui.evolve.jobs:verify_host",
                              kwargs, timeout=7200, hosted=True)  # fmt: skip
                    seconds, result = _once(runner, job)
                    bpb = (result.value or {}).get("scores", {}).get("bpb")
                    out["first_result"][name] = {"seconds": seconds, "bpb": bpb}
        finally:
            for runner in runners.values():
                runner.shutdown()
    return out


def report(out: dict[str, Any]) -> str:
    lines = [f"Ray nodes: {'; '.join(out['nodes'])}",
             f"trivial job, submit to result ({out['jobs']} jobs each, alternating):"]  # fmt: skip
    for name, s in out["overhead"].items():
        lines.append(f"  {name:<6} median {s['median_ms']:8.1f} ms   max {s['max_ms']:8.1f} ms")
    local, ray = out["overhead"]["local"], out["overhead"]["ray"]
    lines.append(f"  ray / local, median: {ray['median_ms'] / local['median_ms']:.2f}")
    for name, r in (out.get("first_result") or {}).items():
        lines.append(f"first result, verify gpt: {name:<6} {r['seconds']:7.1f} s  bpb {r['bpb']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m genesys_tui.bench.runners", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--jobs", type=int, default=50, help="trivial jobs per runner (default 50)")
    p.add_argument("--verify", default="", help="also time a verification at this rung")
    p.add_argument("--address", default="", help="Ray cluster to join (default: start one)")
    p.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = p.parse_args(argv)
    if args.jobs < 1:
        p.error("--jobs must be at least 1")
    from genesys_tui.errors import GenesysError

    try:
        out = measure(args.jobs, args.verify, args.address)
    except GenesysError as exc:
        print(f"bench.runners: {exc}", file=sys.stderr)
        return 2
    print(report(out))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
