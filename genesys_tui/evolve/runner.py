"""Runners: where jobs (check a design, verify it at a rung) run.

A job names a function (``"module:function"``) and JSON keyword arguments. ``LocalRunner`` runs
every job in a fresh child process (``python -m genesys_tui.evolve.job``) with a wall-clock
timeout, in pools of worker slots ("design", "verify"). The child streams progress as JSON lines
on a dedicated pipe and writes its result atomically to a file named by the job id: a job whose
result file exists is not run again, so a retried or resumed job cannot write twice. Where GPUs
exist, each verify slot is pinned to one with ``CUDA_VISIBLE_DEVICES``.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

ProgressFn = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Job:
    id: str  # unique and stable: "check-<design>", "verify-<design>-<rung>"
    func: str  # "package.module:function", called with **kwargs (+ progress= if accepted)
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    pool: str = "verify"  # which worker slots run it
    timeout: float = 3600.0  # seconds of wall time before the job is killed


@dataclass(frozen=True)
class JobResult:
    job_id: str
    ok: bool  # the function returned; False: it raised, crashed or timed out
    value: Any = None  # the function's JSON-serialisable return value
    error: str = ""
    seconds: float = 0.0
    cached: bool = False  # the result came from an earlier run's result file


class Runner(Protocol):
    def submit(self, job: Job, on_progress: ProgressFn | None = None) -> Future[JobResult]: ...
    def busy(self, pool: str) -> int: ...
    def capacity(self, pool: str) -> int: ...
    def shutdown(self, cancel: bool = False) -> None: ...


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


class LocalRunner:
    """Worker slots on this machine; every job in its own child process."""

    def __init__(
        self,
        results_dir: Path,
        workers: Mapping[str, int],
        gpus: int = 0,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.results_dir = results_dir
        results_dir.mkdir(parents=True, exist_ok=True)
        self.workers = dict(workers)
        self.gpus = gpus
        self.env = dict(env or {})
        self._pools = {
            name: ThreadPoolExecutor(n, thread_name_prefix=f"genesys-{name}")
            for name, n in self.workers.items()
        }
        self._slots: dict[str, queue.Queue[int]] = {}
        for name, n in self.workers.items():
            q: queue.Queue[int] = queue.Queue()
            for i in range(n):
                q.put(i)
            self._slots[name] = q
        self._busy = dict.fromkeys(self.workers, 0)
        self._procs: set[subprocess.Popen[bytes]] = set()
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
        slot = self._slots[job.pool].get()
        try:
            return self._run_in_child(job, slot, on_progress)
        finally:
            self._slots[job.pool].put(slot)
            with self._lock:
                self._busy[job.pool] -= 1

    def _run_in_child(self, job: Job, slot: int, on_progress: ProgressFn | None) -> JobResult:
        out = self.result_path(job.id)
        cached = read_result(out, job.id)
        if cached is not None:
            return cached
        if self._closing:
            return JobResult(job.id, False, error="runner is shutting down")
        request = {"func": job.func, "kwargs": dict(job.kwargs), "result": str(out)}
        fd, req_path = tempfile.mkstemp(prefix=f"{job.id}-", suffix=".json", dir=self.results_dir)
        with os.fdopen(fd, "w") as fh:
            json.dump(request, fh)
        env = {**os.environ, **self.env}
        if job.pool == "verify" and self.gpus > 0:
            env["CUDA_VISIBLE_DEVICES"] = str(slot % self.gpus)
        read_fd, write_fd = os.pipe()
        env["GENESYS_PROGRESS_FD"] = str(write_fd)
        t0 = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "genesys_tui.evolve.job", req_path],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            pass_fds=(write_fd,),
            env=env,
            start_new_session=True,
        )
        os.close(write_fd)
        with self._lock:
            self._procs.add(proc)
        reader = threading.Thread(target=_pump, args=(read_fd, on_progress), daemon=True)
        reader.start()
        stderr = b""
        try:
            _, stderr = proc.communicate(timeout=job.timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            _, stderr = proc.communicate()
            timed_out = True
        finally:
            with self._lock:
                self._procs.discard(proc)
            reader.join(timeout=5)
            Path(req_path).unlink(missing_ok=True)
        seconds = time.monotonic() - t0
        if timed_out:
            return JobResult(
                job.id, False, error=f"timed out after {job.timeout:.0f} s", seconds=seconds
            )
        result = read_result(out, job.id)
        if result is not None:
            return JobResult(job.id, result.ok, result.value, result.error, seconds)
        tail = stderr.decode(errors="replace").strip().splitlines()[-8:]
        return JobResult(
            job.id,
            False,
            seconds=seconds,
            error=f"worker exited with status {proc.returncode}: " + "\n".join(tail),
        )

    def shutdown(self, cancel: bool = False) -> None:
        """Stop: with ``cancel``, kill running jobs (they leave no result and rerun on resume)."""
        self._closing = True
        if cancel:
            with self._lock:
                procs = list(self._procs)
            for proc in procs:
                _kill_group(proc)
        for pool in self._pools.values():
            pool.shutdown(wait=True, cancel_futures=cancel)


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


def _pump(fd: int, on_progress: ProgressFn | None) -> None:
    with os.fdopen(fd, "rb") as fh:
        for line in fh:
            if on_progress is None:
                continue
            try:
                on_progress(json.loads(line))
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            except Exception:  # a broken subscriber must not kill the pump
                continue


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
