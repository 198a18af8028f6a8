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
from dataclasses import asdict
from pathlib import Path
from typing import Any

from genesys_tui.bench.discovery_confirm import complete_seeds, confirm
from genesys_tui.bench.discovery_report import (
    RungRow,
    discovery_table,
    format_table,
    namespace_path,
    read_population,
)
from genesys_tui.errors import GenesysError

FORMAT = 1


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
        help="stored runs of the seeds at the top rung for --confirm (noise studies or pooled "
             "noise files, e.g. docs/studies/noise-cpu-s-pooled.json; a later file's run of a "
             "seed wins, the namespace's own over every file)",
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
        path = namespace_path(args.designs_dir, namespace)
        rows = discovery_table(read_population(path, args.ladder))
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
            path = namespace_path(args.designs_dir, namespace)
            rows = discovery_table(read_population(path, args.ladder))
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
        with handle.stop_on_sigterm():
            reason = handle.loop.run()
        if handle.terminated:
            reason = "terminated (SIGTERM)"
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
