"""Open an evolution run: the namespace's repository, the designer, the runner, the loop.

``genesys evolve`` and the dashboard both start runs through ``open_run``.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from genesys_tui import wall
from genesys_tui.errors import StoreError
from genesys_tui.evolve.designers import DESIGNERS, READS_REPO, designer_factory
from genesys_tui.evolve.events import EventBus
from genesys_tui.evolve.loop import EvolutionLoop
from genesys_tui.evolve.runner import Runner
from genesys_tui.evolve.runners import make_runner, runner_factory
from genesys_tui.evolve.settings import EvolveConfig


@dataclass
class Run:
    repo: object  # genesys_tui.store.repo.DesignsRepo, open as the writer
    loop: EvolutionLoop
    runner: Runner
    bus: EventBus
    path: Path
    terminated: bool = field(default=False, init=False)  # a SIGTERM stopped the loop

    @contextlib.contextmanager
    def stop_on_sigterm(self) -> Iterator[None]:
        """While inside, SIGTERM (``kill``, a session or a scheduler ending the process) stops
        the loop as a second Ctrl-C does: the jobs in flight are abandoned (their processes
        killed; a resume runs them again) and ``run()`` returns, so the caller's exit path
        (final figures, ``close``) runs instead of the process dying mid-write (and, with
        ``--no-sandbox``, leaving its design processes orphaned; walled cells die with their
        parent anyway). Outside the main thread, where Python cannot take a signal handler, it
        changes nothing."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def on_term(signum: int, frame: object) -> None:
            self.terminated = True
            self.loop.stop(abandon=True)

        previous = signal.signal(signal.SIGTERM, on_term)
        try:
            yield
        finally:
            signal.signal(signal.SIGTERM, previous)

    def close(self) -> None:
        try:
            self.runner.shutdown(cancel=True)
        finally:
            self.loop.close()  # its scratch directory goes on every exit path
            wall.close_spares()  # so do the warm cells' scratch directories
            self.bus.close()
            self.repo.close()  # type: ignore[attr-defined]


def ladder_rungs(config: EvolveConfig) -> list[str]:
    from genesys_tui.ladder import load_ladder

    names = [r.name for r in load_ladder(config.ladder)]
    return names[: config.max_rungs] if config.max_rungs else names


def ladder_costs(config: EvolveConfig) -> dict[str, float]:
    """Each rung's relative cost for the scheduler: training tokens x d_model^2 x n_layers of
    the rung's GPT reference (the training FLOPs, up to a constant)."""
    from genesys_tui.ladder import load_ladder

    return {r.name: float(r.tokens) * r.d_model**2 * r.n_layers for r in load_ladder(config.ladder)}


def open_run(
    config: EvolveConfig,
    *,
    resume: bool = False,
    root: Path | None = None,
    bus: EventBus | None = None,
) -> Run:
    """Create (or, with ``resume``, reopen) the namespace and everything that drives it.

    Everything that can be refused (the namespace's state, the ladder, the designer spec and its
    API key) is checked before anything is written, and a namespace this call created is removed
    again if opening fails later: the same command, corrected, can then simply be run again.
    """
    from genesys_tui.store.repo import DesignsRepo, designs_root

    path = (root or designs_root()) / config.namespace
    exists = (path / ".git").is_dir()
    if exists and not resume:
        raise StoreError(
            f"namespace {config.namespace!r} already exists at {path}; continue "
            "it with --resume, or pick another --namespace"
        )
    if resume and not exists:
        raise StoreError(f"nothing to resume: no namespace {config.namespace!r} at {path}")

    wall.configure(sandbox=config.sandbox)
    wall.current()  # no sandbox here and no --no-sandbox: refused before anything is written
    rungs, costs = ladder_rungs(config), ladder_costs(config)
    runner_factory(config.runner)  # an unknown runner is refused before anything is written
    # An LLM designer needs its key: built (and refused) now; the offline one reads the repo.
    factory = designer_factory(config.designer)
    reads_repo = factory in (DESIGNERS[name] for name in READS_REPO)
    designer = None if reads_repo else factory(config.designer, None)
    created = not exists and not path.exists()
    repo = None
    runner = None
    try:
        repo = DesignsRepo.open(path, writer=True, create=not exists)
        state = path / ".git" / "genesys"
        bus = bus or EventBus(state / "events.jsonl")
        runner = make_runner(
            config.runner,
            state / "jobs",
            {"design": config.design_workers, "verify": config.verify_workers},
            config.retries,
        )
        loop = EvolutionLoop(
            repo,
            designer or factory(config.designer, repo),
            runner,
            config,
            rungs,
            bus,
            rung_costs=costs,
        )
    except BaseException:
        if runner is not None:
            runner.shutdown(cancel=True)
        if repo is not None:
            repo.close()
        if created:
            shutil.rmtree(path, ignore_errors=True)  # only seeds were written: nothing is lost
        raise
    return Run(repo, loop, runner, bus, path)
