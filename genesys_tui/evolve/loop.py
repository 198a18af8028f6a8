"""The evolution loop: select -> design -> commit -> check -> verify -> record -> repeat.

One controller thread owns the designs repository (the single writer) and the population. The
designer runs in a thread of its own (an LLM designer waits on the network; the offline one is
quick); checks and verifications run as runner jobs in child processes. Every step that cost
something is committed or attached before the next, so the loop can be stopped at any moment,
SIGKILL included, and resumed from the repository: designs still "proposed" are checked again,
and a verification whose result file exists is not run again.

This module schedules and drives: it selects parents, submits design, check and verify jobs,
waits on them and keeps to the budgets. What a finished job produced is written to the
repository and the population by the ``Recorder`` (``recorder.py``).
"""

from __future__ import annotations

import random
import shutil
import tempfile
import threading
import time
import traceback
import weakref
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genesys_tui.designer import Designer, DesignFailure, DesignRequest, Parent, Proposal
from genesys_tui.errors import LoopFailed
from genesys_tui.evolve import events as ev
from genesys_tui.evolve.halving import stop_above
from genesys_tui.evolve.jobs import unpack_design
from genesys_tui.evolve.population import Population
from genesys_tui.evolve.recorder import Recorder
from genesys_tui.evolve.runner import Job, ProgressFn, Runner
from genesys_tui.evolve.schedule import (
    DesignProgress,
    next_verification,
    rung_budgets,
    waiting_at,
)
from genesys_tui.evolve.selection import Choice, LadderSelector, Selector
from genesys_tui.evolve.settings import EvolveConfig
from genesys_tui.ladder import load_ladder

#: Results the loop failed to record one after another before it gives up: one failure is a
#: bad design or a bug on one path; this many in a row means the repository or the loop is
#: broken, and going on would only pile up errors.
MAX_RECORD_FAILURES = 5


@dataclass
class _InFlight:
    kind: str  # "design", "check", "verify"
    design: str = ""
    rung: str = ""
    started: float = field(default_factory=time.monotonic)


class EvolutionLoop:
    """Drives one namespace. ``run()`` blocks until a budget is spent or ``stop()`` is called."""

    def __init__(
        self,
        repo: Any,
        designer: Designer,
        runner: Runner,
        config: EvolveConfig,
        rungs: list[str],
        bus: ev.EventBus | None = None,
        selector: Selector | None = None,
        rung_costs: Mapping[str, float] | None = None,
    ) -> None:
        self.repo = repo
        self.rung_costs = dict(rung_costs or {})  # rung -> relative cost, for the scheduler
        self.designer = designer
        self.runner = runner
        self.config = config
        self.rungs = rungs
        self.bus = bus or ev.EventBus()
        self.selector = selector or LadderSelector(config.selection)
        ladder = load_ladder(config.ladder)
        self.recorder = Recorder(repo, rungs, self.bus, designer, ladder.sigmas)
        # The checker sizes designs at the loop's first rung, which it can look up by name only
        # on a built-in ladder (a ladder file's rungs it does not know).
        self._check_rung = rungs[0] if rungs and ladder.builtin else None
        first = config.first_rung_budget or config.max_designs
        self.budgets = rung_budgets(rungs, first, config.rung_ratio)
        self._futures: dict[Future[Any], _InFlight] = {}
        self._design_pool = ThreadPoolExecutor(
            max(config.design_workers, 1), thread_name_prefix="genesys-designer"
        )
        self._stop = threading.Event()  # abandon in-flight jobs
        self._finishing = threading.Event()  # start nothing new, finish what runs
        self._paused = threading.Event()
        self._started = time.monotonic()
        self._work = Path(tempfile.mkdtemp(prefix="genesys-designs-"))
        # A loop dropped without close() (a caller's bug, a test) still leaves nothing behind.
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._work, ignore_errors=True)
        self.designs_started = 0
        self._record_failures = 0  # in a row; see MAX_RECORD_FAILURES

    # ------------------------------------------------------------------ control

    def stop(self, abandon: bool = False) -> None:
        """Start nothing new and finish the jobs that run; with ``abandon``, kill them too
        (their results are lost, and a resume runs them again)."""
        self._finishing.set()
        if abandon:
            self._stop.set()

    def close(self) -> None:
        """Release what the loop holds: its thread pools and the scratch directory of design
        files handed to the checker and the verifier. Every exit path calls it (``Run.close``);
        call it after ``run()`` has returned and the runner has shut down."""
        self._stop_pools()
        self._cleanup()  # removes the scratch directory, once

    def pause(self, paused: bool = True) -> None:
        (self._paused.set if paused else self._paused.clear)()
        self.bus.emit(ev.LoopState(state="paused" if paused else "running"))

    @property
    def paused(self) -> bool:
        return self._paused.is_set()

    # ------------------------------------------------------------------ state

    @property
    def population(self) -> Population:
        """The namespace's designs as the loop sees them (kept by the recorder)."""
        return self.recorder.population

    def load(self) -> None:
        """Rebuild the population from the repository (start and resume)."""
        self.recorder.load()

    def _out_of_budget(self) -> str | None:
        cfg = self.config
        if cfg.max_wall_seconds and time.monotonic() - self._started > cfg.max_wall_seconds:
            return f"wall-time budget of {cfg.max_wall_seconds:.0f} s spent"
        if cfg.max_usd and self.population.cost_usd >= cfg.max_usd:
            return f"USD budget of {cfg.max_usd:.2f} spent"
        return None

    def _may_design(self) -> bool:
        made = self.population.made + sum(1 for f in self._futures.values() if f.kind == "design")
        return made < self.config.max_designs

    # ------------------------------------------------------------------ the loop

    def run(self) -> str:
        """Run to the end of the budgets; return why it stopped.

        An error of the loop itself (not of a design: those are findings and failed results)
        is emitted as a ``LoopError`` with its traceback, which the event log keeps; the jobs
        in flight are cancelled, and ``LoopFailed`` is raised. A resume continues the run.
        """
        try:
            return self._run()
        except Exception as exc:
            message = f"the evolution loop failed: {type(exc).__name__}: {exc}"
            self.bus.emit(ev.LoopError(message=message, traceback=traceback.format_exc()))
            self._cancel_all()
            self.bus.emit(ev.LoopState(state="failed", message=message))
            raise LoopFailed(message) from exc

    def _run(self) -> str:
        self.load()
        self.bus.emit(
            ev.LoopState(
                state="running", message=f"{len(self.population.members)} designs in the namespace"
            )
        )
        spec = self.config.runner
        self.bus.emit(ev.ClusterStatus(spec, tuple(n.line() for n in self.runner.nodes())))
        for member in list(self.population.members.values()):
            if member.status == "proposed":  # committed but never checked: the loop was killed
                self._submit_check(member.id)
        reason = "finished"
        while True:
            if self._stop.is_set():
                reason = "stopped"
                break
            why = self._out_of_budget()
            if why:
                reason = why
                break
            if self._finishing.is_set() and not self._futures:
                reason = "stopped"
                break
            if not self._paused.is_set() and not self._finishing.is_set():
                self._fill()
            if not self._futures:
                if self._paused.is_set():
                    time.sleep(0.1)
                    continue
                if not self._may_design():
                    reason = "finished"
                    break
            done, _ = wait(list(self._futures), timeout=0.2, return_when=FIRST_COMPLETED)
            for fut in done:
                self._handle(fut, self._futures.pop(fut))
        self.bus.emit(ev.LoopState(state="stopping", message=reason))
        self._drain()
        self.bus.emit(ev.LoopState(state="finished", message=reason))
        return reason

    def _drain(self) -> None:
        """Wait for the jobs in flight; an abandon (a second Ctrl-C, a SIGTERM), before the
        wait or during it, kills them instead."""
        while self._futures and not self._stop.is_set():
            done, _ = wait(list(self._futures), timeout=0.5, return_when=FIRST_COMPLETED)
            for fut in done:
                self._handle(fut, self._futures.pop(fut))
        if self._stop.is_set():
            self._cancel_all()

    def _cancel_all(self) -> None:
        """Kill every job in flight and forget it: nothing of this run keeps running."""
        self.runner.shutdown(cancel=True)
        self._stop_pools()
        self._futures.clear()

    def _stop_pools(self) -> None:
        """Start no queued design or check; the ones running finish on their own threads."""
        self._design_pool.shutdown(wait=False, cancel_futures=True)

    def _fill(self) -> None:
        # One snapshot of the population's verification state serves the whole fill: it
        # changes only when a finished job is recorded, never between the submissions below.
        progress = self.population.progress()
        if self.config.sync:
            # One job at a time, verification first: the same seed gives the same run.
            if (
                not self._futures
                and not self._submit_due_verification(progress)
                and self._may_design()
            ):
                self._submit_design()
            return
        while (
            self._may_design()
            and self._count("design") < self.config.design_workers
            and self._count("check") < max(self.config.design_workers, 1) * 2
            and not self._designer_ahead(progress)
        ):
            self._submit_design()
        while self.runner.busy("verify") < self.runner.capacity("verify"):
            if not self._submit_due_verification(progress):
                return

    def _verifying(self) -> set[tuple[str, str]]:
        """The (design, rung) verifications in flight."""
        return {(f.design, f.rung) for f in self._futures.values() if f.kind == "verify"}

    def _submit_due_verification(self, progress: Mapping[str, DesignProgress]) -> bool:
        if not self.config.verify:
            return False
        job = next_verification(
            progress,
            self.rungs,
            self.budgets,
            self._verifying(),
            self.config.rung_ratio,
            # measured seconds differ between runs: --sync schedules by counts alone, so that
            # the same seed replays the same run
            1.0 if self.config.sync else self.config.upper_share,
            self.rung_costs,
        )
        if job is None:
            return False
        self._submit_verify(*job)
        return True

    def _designer_ahead(self, progress: Mapping[str, DesignProgress]) -> bool:
        """Whether the designer is ``backlog`` designs ahead of the first rung's verifier (with
        the designs being made or checked counted as waiting): designing more now would choose
        parents and edits without the results that are on their way."""
        if not self.config.verify or not self.config.backlog or not self.rungs:
            return False
        first = self.rungs[0]
        waiting = waiting_at(progress, first, self._verifying(), self.budgets.get(first, 0))
        coming = self._count("design") + self._count("check")
        return waiting + coming >= self.config.backlog

    def _count(self, kind: str) -> int:
        return sum(1 for f in self._futures.values() if f.kind == kind)

    # ------------------------------------------------------------------ designing

    def _submit_design(self) -> None:
        n = self.population.made + self._count("design")
        rng = random.Random(f"{self.config.seed}-select-{n}")
        choice = self.selector.select(self.population.candidates(), n, rng)
        fut = self._design_pool.submit(self._design, choice, n)
        self._futures[fut] = _InFlight("design")
        self.designs_started += 1

    def _design(self, choice: Choice, n: int) -> tuple[Choice, Proposal | DesignFailure]:
        parents = tuple(
            Parent(
                pid,
                self.repo.read_design(pid),
                self.repo.read_design_files(pid).get("proposal.md", ""),
                self.population.fitness(self.population.members[pid]),
            )
            for pid in choice.parents
        )
        siblings = []
        for sid in self.population.children_of(choice.parents)[-8:]:
            try:
                siblings.append(self.repo.read_design(sid))
            except Exception:
                continue
        request = DesignRequest(
            choice.kind, parents, seed=hash_seed(self.config.seed, n), siblings=tuple(siblings)
        )

        def say(role: str, text: str) -> None:
            self.bus.emit(ev.Dialogue(role=role, text=text, session=f"design-{n}"))

        return choice, self.designer.design(request, say)

    def _handle_design(self, choice: Choice, out: Proposal | DesignFailure) -> None:
        """Record the designer's answer, then check the design if it is new."""
        design_id = self.recorder.design(choice, out)
        if design_id is not None:
            self._submit_check(design_id)

    # ------------------------------------------------------------------ checking, verifying

    def _design_dir(self, design_id: str) -> Path:
        out = self._work / design_id
        if not out.exists():
            unpack_design(self.repo.read_design_files(design_id), out)
        return out

    def _submit_check(self, design_id: str) -> None:
        """A check runs as a runner job in the "design" pool (here or on a cluster node); its
        result file makes it idempotent, so a resumed run does not check a design twice."""
        job = Job(
            f"check-{design_id}",
            "genesys_tui.evolve.jobs:check_host",
            {"design_dir": str(self._design_dir(design_id)), "rung": self._check_rung},
            pool="design",
            timeout=self.config.check_timeout,
            hosted=True,
        )
        self.bus.emit(ev.WorkerStatus(worker="checker", state="checking", job=design_id))
        self._futures[self.runner.submit(job, self._progress(design_id))] = _InFlight(
            "check", design_id
        )

    def _progress(self, design_id: str, rung: str = "") -> ProgressFn:
        """A job's progress as loop events: where it landed, then its training steps."""

        def progress(event: dict[str, Any]) -> None:
            loop_event = ev.from_progress(design_id, rung, event)
            if loop_event is not None:
                self.bus.emit(loop_event)

        return progress

    def _submit_verify(self, design_id: str, rung: str) -> None:
        job = Job(
            f"verify-{design_id}-{rung}",
            "genesys_tui.evolve.jobs:verify_host",
            {
                "design_dir": str(self._design_dir(design_id)),
                "rung": rung,
                "ladder": self.config.ladder,
                "seed": self.config.seed,
                "pairs": self.config.verify_pairs,
                "tasks_min_tokens": self.config.tasks_min_tokens,
                "stop_above": stop_above(self.repo, rung, self.config.halving),
            },
            pool="verify",
            timeout=self.config.verify_timeout,
            hosted=True,
        )

        self.bus.emit(ev.RungStarted(design=design_id, rung=rung))
        progress = self._progress(design_id, rung)
        self._futures[self.runner.submit(job, progress)] = _InFlight("verify", design_id, rung)

    def _handle(self, fut: Future[Any], what: _InFlight) -> None:
        try:
            out = fut.result()
        except Exception as exc:  # a designer or runner bug must not kill the loop
            self.recorder.lost(what.kind, what.design, what.rung, exc)
            return
        try:
            if what.kind == "design":
                self._handle_design(*out)
            elif what.kind == "check":
                self.recorder.check(what.design, out)
            else:
                self.recorder.verify(what.design, what.rung, out)
        except Exception as exc:
            # Recording one job's result failed: say so with the traceback and go on; nothing
            # of it was attached, so a resume does that job again. Failures in a row end the
            # run, since then the repository (or the loop) is broken, not one result.
            self._record_failures += 1
            where = f" of {what.design}" if what.design else ""
            self.bus.emit(
                ev.LoopError(
                    message=f"recording the {what.kind} result{where} failed: "
                    f"{type(exc).__name__}: {exc}",
                    design=what.design,
                    traceback=traceback.format_exc(),
                )
            )
            if self._record_failures >= MAX_RECORD_FAILURES:
                raise
            return
        self._record_failures = 0


def hash_seed(seed: int, n: int) -> int:
    """A per-design seed that depends only on the run's seed and the design's number."""
    return random.Random(f"{seed}-design-{n}").getrandbits(63)
