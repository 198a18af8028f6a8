"""Runners: where jobs (check a design, verify it at a rung) run.

A job names a function (``"module:function"``) and JSON keyword arguments. ``LocalRunner`` runs
every job in a child process of its own, forked from a multiprocessing fork server that has
torch and the verifier imported already, with a wall-clock timeout, in pools of worker slots
("design", "verify"). The child leads its own process group (a timeout kills all it started),
sends progress over a pipe, sends its output to a log file beside the result, and writes its
result atomically to a file named by the job id: a job whose result file exists is not run
again, so a retried or resumed job cannot write twice. Where GPUs
exist, each verify slot is pinned to one with ``CUDA_VISIBLE_DEVICES``.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Protocol

from genesys_tui import wall
from genesys_tui.evolve.job import child_main

ProgressFn = Callable[[dict[str, Any]], None]

#: Imported once by the fork server, so that jobs start warm.
PRELOAD = (
    "torch",
    "genesys_tui.checker.child",
    "genesys_tui.evolve.jobs",
    "genesys_tui.verify.verify",
    "genesys_tui.verify.train",
    "genesys_tui.verify.evals.evaluate",
    "genesys_tui.verify.evals.lm_model",
    "lm_eval.evaluator",
    "lm_eval.tasks",
)


@dataclass(frozen=True)
class Job:
    id: str  # unique and stable: "check-<design>", "verify-<design>-<rung>"
    func: str  # "package.module:function", called with **kwargs (+ progress= if accepted)
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    pool: str = "verify"  # which worker slots run it
    timeout: float = 3600.0  # seconds of wall time before the job is killed
    # True: ``func`` is a trusted host that runs on the runner's own thread and puts the
    # design's code in a walled cell itself (``jobs.verify_host``); it is called with
    # ``progress``, ``timeout``, ``threads`` and ``gpu``.
    hosted: bool = False


@dataclass(frozen=True)
class JobResult:
    job_id: str
    ok: bool  # the function returned; False: it raised, crashed or timed out
    value: Any = None  # the function's JSON-serialisable return value
    error: str = ""
    seconds: float = 0.0
    cached: bool = False  # the result came from an earlier run's result file


@dataclass(frozen=True)
class Node:
    """A machine jobs run on, as a runner reports it (the dashboard's workers panel)."""

    host: str
    cpus: float
    gpus: float = 0.0
    alive: bool = True

    def line(self) -> str:
        """"host: 8 CPUs, 1 GPU" (and ", dead" for a node the cluster lost)."""
        def count(n: float, what: str) -> str:
            return f"{n:g} {what}" + ("" if n == 1 else "s")

        dead = "" if self.alive else ", dead"
        return f"{self.host}: {count(self.cpus, 'CPU')}, {count(self.gpus, 'GPU')}{dead}"


class Runner(Protocol):
    def submit(self, job: Job, on_progress: ProgressFn | None = None) -> Future[JobResult]: ...
    def busy(self, pool: str) -> int: ...
    def capacity(self, pool: str) -> int: ...
    def nodes(self) -> list[Node]: ...
    def shutdown(self, cancel: bool = False) -> None: ...


#: A progress event a runner sends first for a job that landed on a node: {PLACED: host}.
PLACED = "placed"


def gpu_count() -> int:
    """NVIDIA GPUs visible through NVML; 0 without a driver."""
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            return int(pynvml.nvmlDeviceGetCount())
        finally:
            pynvml.nvmlShutdown()
    except Exception:
        return 0


class PooledRunner:
    """What every runner keeps: a thread pool per worker pool (its size: how many jobs of that
    pool run at once) with a count of jobs submitted and not yet done, and one result file per
    job id. A job whose result file exists returns it (``cached``) and is not run again; once
    the runner closes, a job not yet started fails with "runner is shutting down". A subclass
    runs a job in ``_execute`` and decides there which results it writes."""

    def __init__(self, results_dir: Path, workers: Mapping[str, int], prefix: str) -> None:
        self.results_dir = results_dir
        results_dir.mkdir(parents=True, exist_ok=True)
        self.workers = dict(workers)
        self._pools = {
            name: ThreadPoolExecutor(n, thread_name_prefix=f"{prefix}-{name}")
            for name, n in self.workers.items()
        }
        self._busy = dict.fromkeys(self.workers, 0)
        self._lock = threading.Lock()
        self._closing = False

    def capacity(self, pool: str) -> int:
        return self.workers.get(pool, 0)

    def busy(self, pool: str) -> int:
        with self._lock:
            return self._busy.get(pool, 0)

    def result_path(self, job_id: str) -> Path:
        return self.results_dir / f"{job_id}.json"

    def submit(self, job: Job, on_progress: ProgressFn | None = None) -> Future[JobResult]:
        if job.pool not in self._pools:
            raise ValueError(f"no worker pool {job.pool!r}; pools: {sorted(self._pools)}")
        with self._lock:
            self._busy[job.pool] += 1
        return self._pools[job.pool].submit(self._run, job, on_progress)

    def _run(self, job: Job, on_progress: ProgressFn | None) -> JobResult:
        try:
            cached = read_result(self.result_path(job.id), job.id)
            if cached is not None:
                return cached
            if self._closing:
                return JobResult(job.id, False, error="runner is shutting down")
            return self._execute(job, on_progress)
        finally:
            with self._lock:
                self._busy[job.pool] -= 1

    def _execute(self, job: Job, on_progress: ProgressFn | None) -> JobResult:
        raise NotImplementedError

    def _stop_pools(self, cancel: bool) -> None:
        for pool in self._pools.values():
            pool.shutdown(wait=True, cancel_futures=cancel)


class LocalRunner(PooledRunner):
    """Worker slots on this machine; every job in its own child process."""

    def __init__(
        self,
        results_dir: Path,
        workers: Mapping[str, int],
        gpus: int = 0,
        env: Mapping[str, str] | None = None,
        preload: Sequence[str] = PRELOAD,
        threads_per_job: int = 0,
    ) -> None:
        super().__init__(results_dir, workers, "genesys")
        # Jobs of every pool run side by side (and the checker beside them): share the cores
        # out instead of letting each job's thread pool oversubscribe them, which on a busy
        # 2-core machine made training ten times slower.
        self.threads = threads_per_job or max(1, (os.cpu_count() or 1) // sum(workers.values()))
        self.gpus = gpus
        self.env = dict(env or {})
        self._slots: dict[str, queue.Queue[int]] = {}
        for name, n in self.workers.items():
            q: queue.Queue[int] = queue.Queue()
            for i in range(n):
                q.put(i)
            self._slots[name] = q
        self._procs: set[BaseProcess] = set()
        self._preload = tuple(preload)
        self._server: ForkServerContext | None = None  # started by the first job not hosted

    @property
    def _ctx(self) -> ForkServerContext:
        with self._lock:
            if self._server is None:
                self._server = fork_server(self._preload)
            return self._server

    def nodes(self) -> list[Node]:
        import socket

        return [Node(socket.gethostname(), float(os.cpu_count() or 1), float(self.gpus))]

    def _execute(self, job: Job, on_progress: ProgressFn | None) -> JobResult:
        slot = self._slots[job.pool].get()
        try:
            if job.hosted:
                return self._run_hosted(job, slot, on_progress)
            return self._run_in_child(job, slot, on_progress)
        finally:
            self._slots[job.pool].put(slot)

    def _run_in_child(self, job: Job, slot: int, on_progress: ProgressFn | None) -> JobResult:
        out = self.result_path(job.id)
        env = dict(self.env)
        if job.pool == "verify" and self.gpus > 0:
            env["CUDA_VISIBLE_DEVICES"] = str(slot % self.gpus)
        log = self.results_dir / f"{job.id}.log"
        receive, send = self._ctx.Pipe(duplex=False)
        request = {
            "owner": os.getpid(),
            "threads": self.threads,
            "func": job.func,
            "kwargs": dict(job.kwargs),
            "result": str(out),
            "log": str(log),
            "env": env,
        }
        t0 = time.monotonic()
        proc = self._ctx.Process(
            target=child_main, args=(request, send), daemon=False, name=f"genesys-job-{job.id}"
        )
        proc.start()
        send.close()
        with self._lock:
            self._procs.add(proc)
        reader = threading.Thread(target=_pump, args=(receive, on_progress), daemon=True)
        reader.start()
        proc.join(job.timeout)
        timed_out = proc.is_alive()
        if timed_out:
            _kill_group(proc)
            proc.join()
        with self._lock:
            self._procs.discard(proc)
        reader.join(timeout=5)
        seconds = time.monotonic() - t0
        if timed_out:
            return JobResult(
                job.id, False, error=f"timed out after {job.timeout:.0f} s", seconds=seconds
            )
        result = read_result(out, job.id)
        if result is not None:
            return JobResult(job.id, result.ok, result.value, result.error, seconds)
        tail = log.read_text(errors="replace").strip().splitlines()[-8:] if log.exists() else []
        return JobResult(
            job.id,
            False,
            seconds=seconds,
            error=f"worker exited with status {proc.exitcode}: " + "\n".join(tail),
        )

    def _run_hosted(self, job: Job, slot: int, on_progress: ProgressFn | None) -> JobResult:
        """Call a trusted host on this thread; it runs the design's code in a walled cell. The
        result file is written here, by the runner, never by the cell."""
        from genesys_tui.evolve.job import resolve

        t0 = time.monotonic()
        gpu = str(slot % self.gpus) if job.pool == "verify" and self.gpus > 0 else ""
        try:
            with wall.owned_by(self):  # a cancel of this runner kills this job's cells alone
                value = resolve(job.func)(
                    **job.kwargs, progress=on_progress or (lambda _: None), timeout=job.timeout,
                    threads=self.threads, gpu=gpu,
                )  # fmt: skip
            result = JobResult(job.id, True, value, seconds=time.monotonic() - t0)
        except Exception as exc:
            result = JobResult(job.id, False, error=f"{type(exc).__name__}: {exc}",
                               seconds=time.monotonic() - t0)  # fmt: skip
        if not self._closing:  # a cancelled job leaves no result and runs again on resume
            write_result(self.result_path(job.id), result)
        return result

    def shutdown(self, cancel: bool = False) -> None:
        """Stop: with ``cancel``, kill running jobs (they leave no result and rerun on resume)."""
        self._closing = True
        if cancel:
            with self._lock:
                procs = list(self._procs)
            for proc in procs:
                _kill_group(proc)
            wall.kill_running(self)
        self._stop_pools(cancel)


def write_result(path: Path, result: JobResult) -> None:
    """The result file of a job, written atomically (what ``read_result`` reads)."""
    data = {"ok": result.ok, "seconds": result.seconds}
    data.update({"value": result.value} if result.ok else {"error": result.error})
    tmp = path.with_suffix(f".tmp{os.getpid()}.{threading.get_ident()}")
    tmp.write_text(json.dumps(data, default=str), encoding="utf-8")
    os.replace(tmp, path)


def read_result(path: Path, job_id: str) -> JobResult | None:
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return JobResult(
        job_id,
        bool(data.get("ok")),
        data.get("value"),
        data.get("error", ""),
        float(data.get("seconds", 0.0)),
        cached=True,
    )


def _pump(receive: Connection, on_progress: ProgressFn | None) -> None:
    while True:
        try:
            event = receive.recv()
        except (EOFError, OSError):
            break
        if on_progress is None or not isinstance(event, dict):
            continue
        with contextlib.suppress(Exception):  # a broken subscriber must not kill the pump
            on_progress(event)
    receive.close()


def _kill_group(proc: BaseProcess) -> None:
    # The child made itself a process-group leader, so this also ends what it started.
    if proc.pid is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        proc.kill()


def fork_server(preload: Sequence[str]) -> ForkServerContext:
    """The multiprocessing fork server every job is forked from, with ``preload`` imported once.

    Jobs then start in a fraction of a second instead of importing torch each time. The server
    is a separate process: the caller (the dashboard, say) imports none of it.
    """
    from multiprocessing import forkserver

    # OpenMP threads that spin while they wait for work starve each other in jobs forked side by
    # side: measured on 2 busy cores, a training job took 97 s with spinning threads and 13 s
    # with passive ones. The server (and so every job) inherits the setting at torch's import.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    ctx = multiprocessing.get_context("forkserver")
    assert isinstance(ctx, ForkServerContext)
    ctx.set_forkserver_preload(list(preload))
    # Start it now, before anything else in this process (the checker) starts it with a
    # shorter preload list: the first to start the server decides what it has imported.
    forkserver.ensure_running()
    return ctx
