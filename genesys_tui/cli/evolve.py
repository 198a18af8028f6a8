"""``genesys evolve``: the headless evolution loop, with a progress log and a leaderboard."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evolve", help="run the evolution loop headless (Ctrl-C stops cleanly)")
    p.add_argument("--namespace", default="default", help="designs/<namespace>/ holds the run")
    p.add_argument(
        "--designs-dir",
        type=Path,
        default=None,
        help="where namespaces live (default: $GENESYS_DESIGNS_DIR or ./designs)",
    )
    p.add_argument(
        "--designer",
        default="offline",
        help="offline (default), learning, learning:NS[,NS...] (learning from earlier runs too), "
        "anthropic:MODEL, openai:MODEL or openai-compatible:URL#MODEL",
    )
    p.add_argument("--ladder", default="cpu", help="cpu (default), paper, or a ladder TOML")
    p.add_argument(
        "--runner", default="local",
        help="where jobs run: local (default), ray (join or start a local Ray instance), "
        "ray:auto or ray:HOST:PORT (join a Ray cluster)",
    )  # fmt: skip
    p.add_argument(
        "--retries", type=int, default=2,
        help="times a cluster runner reruns a job whose worker or node died (default 2)",
    )  # fmt: skip
    p.add_argument("--max-designs", type=int, default=24, help="designs to make (seeds apart)")
    p.add_argument("--max-rungs", type=int, default=0, help="climb at most this many rungs")
    p.add_argument("--workers", type=int, default=1, help="verify workers (one per GPU)")
    p.add_argument("--design-workers", type=int, default=1, help="designers/checkers at once")
    p.add_argument("--wall-time", type=float, default=0.0, help="stop after this many seconds")
    p.add_argument("--max-usd", type=float, default=0.0, help="stop after spending this much")
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice")
    p.add_argument(
        "--sync",
        action="store_true",
        help="one job at a time, so the same seed replays the same run",
    )
    p.add_argument("--no-verify", action="store_true", help="design and check only; no training")
    p.add_argument(
        "--halving",
        type=float,
        default=0.0,
        metavar="F",
        help="stop a verification at F of its steps when its training loss is above the median "
        "of the rung's finished designs there (0: off; `genesys study halving` measures the cost)",
    )
    p.add_argument(
        "--pairs",
        type=int,
        default=0,
        help="generated minimal pairs per phenomenon at evaluation (0: by rung)",
    )
    p.add_argument(
        "--tasks-min-tokens",
        type=int,
        default=None,
        metavar="N",
        help="rungs training fewer than N tokens skip the evaluation tasks and are scored on "
        "bits per byte (default 1,000,000; 0: evaluate on every rung)",
    )
    p.add_argument(
        "--upper-share",
        type=float,
        default=0.5,
        metavar="F",
        help="while designs wait at the first rung, the rungs above it get at most this share "
        "of the verification time (default 0.5; 1: promote as soon as a promotion is due)",
    )
    p.add_argument(
        "--backlog", type=int, default=8, metavar="N",
        help="the designer waits while N checked designs await their first verification "
        "(default 8; 0: no limit)",
    )  # fmt: skip
    p.add_argument("--resume", action="store_true", help="continue an existing namespace")
    p.add_argument(
        "--no-sandbox", action="store_true",
        help="run model-written designs without the bubblewrap sandbox (not recommended)",
    )  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="print only the leaderboard")
    p.set_defaults(func=run)


def _printer(quiet: bool) -> Any:
    from genesys_tui.evolve import events as ev

    def show(e: ev.Event) -> None:
        if isinstance(e, ev.ClusterStatus) and e.runner != "local":
            # Always said, --quiet or not: which machines this run's jobs go to.
            print(f"runner {e.runner}: {len(e.nodes)} node(s): " + "; ".join(e.nodes), flush=True)
            return
        if quiet or isinstance(e, ev.TrainingProgress | ev.WorkerStatus | ev.Dialogue):
            return
        stamp = time.strftime("%H:%M:%S")
        if isinstance(e, ev.DesignCommitted):
            parents = ", ".join(e.parents) or "-"
            text = f"committed {e.design} [{e.status}] from {parents}: {e.title}"
        elif isinstance(e, ev.CheckFinished):
            text = f"check {e.design}: {'ok' if e.ok else 'rejected'} ({e.seconds:.1f} s)" + (
                "" if e.ok else f": {e.summary}"
            )
        elif isinstance(e, ev.RungStarted):
            text = f"verify {e.design} at {e.rung}"
        elif isinstance(e, ev.JobPlaced):
            what = f"verification of {e.design} at {e.rung}" if e.rung else f"check of {e.design}"
            text = f"{what} runs on {e.host}"
        elif isinstance(e, ev.RungFinished):
            text = (
                f"verified {e.design} at {e.rung}: bpb {e.bpb:.4f}, fitness "
                f"{e.fitness:+.4f} ({e.seconds:.0f} s)"
                if e.ok and e.bpb is not None and e.fitness is not None
                else f"verification of {e.design} at {e.rung} failed: {e.reason}"
            )
        elif isinstance(e, ev.LoopState):
            text = f"loop {e.state}" + (f": {e.message}" if e.message else "")
        elif isinstance(e, ev.LoopError):
            text = f"error: {e.message}"
            if e.traceback:
                print(e.traceback.rstrip(), file=sys.stderr, flush=True)
        else:
            return
        print(f"[{stamp}] {text}", flush=True)

    return show


def _on_ctrl_c(loop: Any) -> Callable[[int, object], None]:
    """The SIGINT handler of a headless run: the first Ctrl-C finishes the jobs in flight, the
    next abandons them."""
    presses = 0

    def on_sigint(signum: int, frame: object) -> None:
        nonlocal presses
        presses += 1
        if presses == 1:
            print("\nstopping: finishing the jobs in flight (Ctrl-C again to abandon them)",
                  file=sys.stderr, flush=True)  # fmt: skip
            loop.stop()
        else:
            print("\nabandoning in-flight jobs; --resume runs them again", file=sys.stderr,
                  flush=True)  # fmt: skip
            loop.stop(abandon=True)

    return on_sigint


def run(args: argparse.Namespace) -> int:
    from genesys_tui.errors import LoopFailed
    from genesys_tui.evolve.leaderboard import format_leaderboard, leaderboard
    from genesys_tui.evolve.session import open_run
    from genesys_tui.evolve.settings import EvolveConfig
    from genesys_tui.verify.verify import TASKS_MIN_TOKENS

    config = EvolveConfig(
        namespace=args.namespace,
        designer=args.designer,
        ladder=args.ladder,
        runner=args.runner,
        retries=args.retries,
        max_designs=args.max_designs,
        max_rungs=args.max_rungs,
        verify_workers=args.workers,
        design_workers=args.design_workers,
        max_wall_seconds=args.wall_time,
        max_usd=args.max_usd,
        seed=args.seed,
        sync=args.sync,
        verify=not args.no_verify,
        verify_pairs=args.pairs,
        tasks_min_tokens=(
            TASKS_MIN_TOKENS if args.tasks_min_tokens is None else args.tasks_min_tokens
        ),
        upper_share=args.upper_share,
        backlog=args.backlog,
        halving=args.halving,
        sandbox=not args.no_sandbox,
    )
    handle = open_run(config, resume=args.resume, root=args.designs_dir)
    if not config.sandbox:
        print("genesys: UNSANDBOXED: design code runs without the bubblewrap wall (--no-sandbox)",
              file=sys.stderr)  # fmt: skip
    handle.bus.subscribe(_printer(args.quiet))
    previous = signal.signal(signal.SIGINT, _on_ctrl_c(handle.loop))
    try:
        with handle.stop_on_sigterm():
            reason = handle.loop.run()
        if handle.terminated:
            reason = f"terminated by SIGTERM; --resume runs the abandoned jobs again ({reason})"
    except LoopFailed as exc:
        print(
            f"genesys evolve: {exc} (traceback above and in {handle.path}/.git/genesys/"
            f"events.jsonl); continue with: genesys evolve --resume --namespace "
            f"{args.namespace}",
            file=sys.stderr,
        )
        return 1
    finally:
        signal.signal(signal.SIGINT, previous)
        handle.close()
    pop = handle.loop.population
    print(
        f"\n{args.namespace}: {pop.made} designs made, "
        f"{sum(1 for m in pop.members.values() if m.checked and not m.is_seed)} passed the "
        f"checker, {sum(1 for m in pop.members.values() if m.rung_scores and not m.is_seed)} "
        f"verified ({reason}); repository: {handle.path}"
    )
    if not config.verify:
        print("verification was off (--no-verify): the designs are listed with their check "
              "status, unranked")  # fmt: skip
    print(format_leaderboard(leaderboard(pop, unverified=not config.verify), sigmas=pop.sigmas))
    return 0
