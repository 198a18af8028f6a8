"""What the graph audit costs a verification (issue 21, section 2): each library design
verified through ``verify_host`` (walled, audited), with the seconds its cell spent exporting
the trained model as a graph and the seconds the coordinator spent auditing it (an auditor cell
running the drawn windows and the causality probes through the graph), and their share of the
verification, all from one run.

    python -m genesys_tui.bench.audit --rung cpu-xs
    python -m genesys_tui.bench.audit --rung cpu-xs --designs gpt mamba2 --json out.json
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

from genesys_tui.resources import library_dir
from genesys_tui.results import RungResult

DESIGNS = ("gpt", "mamba2", "retnet", "rwkv7", "ttt")
_NOTE = re.compile(r"graph scored: .*?(\d+) causality probes; exported in ([\d.?]+) s, "
                   r"audited in ([\d.]+) s")  # fmt: skip


def measure(design: str, rung: str, ladder: str) -> dict[str, Any]:
    from genesys_tui.evolve.jobs import verify_host

    t0 = time.perf_counter()
    result = RungResult.from_wire(verify_host(str(library_dir() / design), rung, ladder=ladder))
    total = time.perf_counter() - t0
    if not result.ok:
        raise RuntimeError(f"{design} at {rung}: {result.reason}")
    found = next((m for n in result.notes if (m := _NOTE.search(n))), None)
    if found is None:
        raise RuntimeError(f"{design}: the result carries no graph audit note: {result.notes}")
    probes, export, audit = found.groups()
    export_s = float(export) if export != "?" else 0.0
    return {"design": design, "rung": rung, "verify_s": round(total, 2), "export_s": export_s,
            "audit_s": float(audit), "probes": int(probes), "bpb": result.bpb,
            "share": round((export_s + float(audit)) / total, 3)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genesys_tui.bench.audit",
                                     description=__doc__.split("\n\n")[0])  # fmt: skip
    parser.add_argument("--rung", default="cpu-xs")
    parser.add_argument("--ladder", default="cpu")
    parser.add_argument("--designs", nargs="+", default=list(DESIGNS))
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    rows = []
    print(f"{'design':<8} {'verify s':>9} {'export s':>9} {'audit s':>8} {'probes':>7} "
          f"{'share':>6}")  # fmt: skip
    for design in args.designs:
        row = measure(design, args.rung, args.ladder)
        rows.append(row)
        print(f"{design:<8} {row['verify_s']:>9.1f} {row['export_s']:>9.1f} {row['audit_s']:>8.1f} "
              f"{row['probes']:>7} {row['share']:>6.0%}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
