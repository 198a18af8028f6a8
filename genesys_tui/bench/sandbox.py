"""What the wall costs: the same work behind bubblewrap and in a plain child process, side by
side, rounds alternating so that load on the machine falls on both alike.

    python -m genesys_tui.bench.sandbox --rounds 5
    python -m genesys_tui.bench.sandbox --rounds 3 --verify --json

Three figures, each the median over rounds of wall seconds and the ratio walled / plain:

- ``cell start``: a cold cell (torch and the checker imported) until it says it is ready;
- ``check``: ``genesys check`` of library/gpt, its cell taken warm from the pool as the loop
  does;
- ``verify`` (with ``--verify``): library/gpt trained and evaluated at cpu-xs through
  ``verify_host``, the audit included.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from genesys_tui import wall
from genesys_tui.checker.sandbox import PRELOAD
from genesys_tui.wall.bwrap import HINT

LIBRARY = Path(__file__).resolve().parents[2] / "library"


def _cell_start(mode: str) -> float:
    t0 = time.perf_counter()
    cell = wall.Cell(wall.Wall(mode=mode), wall.CellSpec(preload=PRELOAD))
    try:
        if not cell.wait_ready(120.0):
            raise RuntimeError(f"a {mode} cell did not start: {cell.stderr_tail()}")
        return time.perf_counter() - t0
    finally:
        cell.close()


def _check(design: str) -> float:
    from genesys_tui.checker import check_design

    t0 = time.perf_counter()
    report = check_design(LIBRARY / design)
    if not report.ok:
        raise RuntimeError(f"library/{design} failed its check: {report}")
    return time.perf_counter() - t0


def _verify(design: str) -> float:
    from genesys_tui.evolve.jobs import verify_host
    from genesys_tui.results import RungResult

    t0 = time.perf_counter()
    result = RungResult.from_wire(verify_host(str(LIBRARY / design), "cpu-xs"))
    if not result.ok:
        raise RuntimeError(f"library/{design} failed at cpu-xs: {result.reason}")
    return time.perf_counter() - t0


def _with(sandbox: bool, fn: Any, *args: Any) -> float:
    wall.configure(sandbox=sandbox)
    try:
        return fn(*args)
    finally:
        wall.configure(sandbox=True)


def measure(rounds: int, design: str, verify: bool) -> dict[str, Any]:
    why = wall.probe()
    if why is not None:
        raise SystemExit(f"error: {why}: {HINT}")
    figures: dict[str, dict[str, list[float]]] = {}

    def pair(name: str, walled: Any, plain: Any) -> None:
        row = figures.setdefault(name, {"walled": [], "plain": []})
        order = [("walled", walled), ("plain", plain)]
        if len(row["walled"]) % 2:  # alternate which goes first
            order.reverse()
        for key, fn in order:
            row[key].append(fn())

    for _ in range(rounds):
        pair("cell start", lambda: _cell_start("bwrap"), lambda: _cell_start("none"))
    _with(True, _check, design)  # warm both pools' spares once
    _with(False, _check, design)
    for _ in range(rounds):
        pair("check", lambda: _with(True, _check, design), lambda: _with(False, _check, design))
    if verify:
        for _ in range(rounds):
            pair("verify cpu-xs", lambda: _with(True, _verify, design),
                 lambda: _with(False, _verify, design))  # fmt: skip
    wall.close_spares()
    out: dict[str, Any] = {"design": design, "rounds": rounds, "figures": {}}
    for name, row in figures.items():
        w, p = statistics.median(row["walled"]), statistics.median(row["plain"])
        out["figures"][name] = {"walled_s": w, "plain_s": p, "ratio": w / p, **row}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each figure")
    parser.add_argument("--design", default="gpt", help="a library design (default gpt)")
    parser.add_argument("--verify", action="store_true", help="also time a cpu-xs verification")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        print("error: --rounds must be at least 1", file=sys.stderr)
        return 2
    if not (LIBRARY / args.design / "design.json").is_file():
        print(f"error: no library design {args.design!r} in {LIBRARY}", file=sys.stderr)
        return 2
    out = measure(args.rounds, args.design, args.verify)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"library/{args.design}, median of {args.rounds} rounds (wall seconds)")
    print(f"{'':16}{'walled':>9}{'plain':>9}{'ratio':>8}")
    for name, f in out["figures"].items():
        print(f"{name:16}{f['walled_s']:9.2f}{f['plain_s']:9.2f}{f['ratio']:8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
