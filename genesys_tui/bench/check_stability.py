"""Is the checker's verdict stable under load? The same design checked N times while other
CPU-bound processes run beside it.

    python -m genesys_tui.bench.check_stability mamba2 --runs 20 --load 2
    python -m genesys_tui.bench.check_stability DESIGN_DIR --runs 20 --load 2 --json

Prints each run's verdict and speed ratio, then the spread. ``--load K`` starts K busy-loop
processes for the whole measurement (on a 2-core machine, 2 of them leave the checker a third
of the CPU); ``--load 0`` measures a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import sys
import time
from typing import Any


def _spin(stop: Any) -> None:
    x = 0
    while not stop.is_set():
        for i in range(100_000):
            x ^= i


def measure(design: str, runs: int, load: int) -> dict[str, Any]:
    """Check ``design`` ``runs`` times with ``load`` busy processes running; return per-run
    verdicts and figures and their spread."""
    from genesys_tui.checker import check_design

    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    hogs = [ctx.Process(target=_spin, args=(stop,), daemon=True) for _ in range(load)]
    for p in hogs:
        p.start()
    rows: list[dict[str, Any]] = []
    try:
        for i in range(runs):
            t0 = time.monotonic()
            report = check_design(design)
            errors = [f"{f.check}: {f.message}" for f in report.errors]
            rows.append(
                {
                    "run": i + 1,
                    "ok": report.ok,
                    "errors": errors,
                    "speed_ratio": report.figures.get("speed_ratio"),
                    "memory_ratio": report.figures.get("memory_ratio"),
                    "seconds": round(time.monotonic() - t0, 2),
                }
            )
            print(
                f"run {i + 1:2d}: {'ok' if report.ok else 'REJECTED'}  speed "
                f"{rows[-1]['speed_ratio']}x  memory {rows[-1]['memory_ratio']}x  "
                f"{rows[-1]['seconds']:.1f} s" + (f"  {errors[0]}" if errors else ""),
                flush=True,
            )
    finally:
        stop.set()
        for p in hogs:
            p.join(timeout=5)
    ratios = [float(r["speed_ratio"]) for r in rows if r["speed_ratio"] is not None]
    return {
        "design": design,
        "runs": runs,
        "load": load,
        "verdicts": sorted({"ok" if r["ok"] else "rejected" for r in rows}),
        "rejected": sum(1 for r in rows if not r["ok"]),
        "speed_ratio": {
            "min": min(ratios, default=None),
            "median": statistics.median(ratios) if ratios else None,
            "max": max(ratios, default=None),
        },
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genesys_tui.bench.check_stability")
    parser.add_argument("design", help="a library design name or a design directory")
    parser.add_argument("--runs", type=int, default=20, help="checks to run (default 20)")
    parser.add_argument("--load", type=int, default=2, help="busy processes beside (default 2)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON last")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.load < 0:
        print("--runs must be >= 1 and --load >= 0", file=sys.stderr)
        return 2
    out = measure(args.design, args.runs, args.load)
    s = out["speed_ratio"]
    print(
        f"\n{out['design']}: {out['runs']} checks beside {out['load']} busy processes: "
        f"{out['rejected']} rejected; speed ratio min {s['min']}, median {s['median']}, "
        f"max {s['max']}"
    )
    if args.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
