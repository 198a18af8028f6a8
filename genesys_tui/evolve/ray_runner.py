"""The Ray runner (``--runner ray[:ADDRESS]``): the loop's check and verify jobs as Ray tasks.

Each job is one Ray task that streams its progress back (a streaming generator: the node it
landed on first, then the job's progress events, then its result). The task runs the job's
trusted host on the node (``jobs.check_host`` / ``jobs.verify_host``), which puts the design's
code in a walled cell there, builds the node's own token cache and audits the result there;
the job carries the design's files, so no node needs the designs repository or a shared
filesystem. The coordinator alone writes result files, commits and attaches, exactly as with
the local runner: a job whose result file exists is not submitted again (job ids are stable),
so a coordinator killed with SIGKILL resumes with ``--resume`` and repeats no finished job.

Ray retries a task whose worker or node died (``retries`` times, Ray's ``max_retries``); a
job still without a result then fails naming why. A job past its timeout is cancelled with
``force`` (its worker process is killed, and with it the cell: ``--die-with-parent``) and
recorded as a timeout. Concurrency per pool is the loop's worker counts, as locally.
"""

from __future__ import annotations

import contextlib
import os
import queue
import socket
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from genesys_tui.errors import ConfigError
from genesys_tui.evolve.runner import (
    PLACED,
    Job,
    JobResult,
    Node,
    PooledRunner,
    ProgressFn,
    write_result,
)

#: Times Ray runs a job again after its worker or node died.
RETRIES = 2
#: Extra seconds a hosted job gets over its timeout: the host stops its cell at the timeout
#: and reports it; the coordinator's cancel is the backstop for a host that hangs.
HOST_GRACE = 30.0
INSTALL = "pip install 'ray>=2.9' (the ray extra: pip install '.[ray]' in a checkout)"
#: Environment variables a job takes from the coordinator to its node (the rest is the node's).
FORWARD_ENV = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(f"the ray runner needs Ray, which is not installed: {INSTALL}") from None
    return ray


def _reachable(address: str, seconds: float = 5.0) -> str | None:
    """None when something listens at HOST:PORT, else why not (an unreachable head makes
    ``ray.init`` retry for a minute before it says so)."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return f"{address!r} is not HOST:PORT"
    try:
        with socket.create_connection((host, int(port)), timeout=seconds):
            return None
    except OSError as exc:
        return str(exc) or type(exc).__name__


def connect(address: str) -> bool:
    """Join the Ray cluster at ``address`` ("auto", "HOST:PORT"), or with "" join the local
    instance or start one. True when this call connected (so ``shutdown`` disconnects); False
    when the process was connected already. ConfigError, in one line, when it cannot."""
    ray = import_ray()
    if ray.is_initialized():
        return False
    where = address or "a new local instance"
    hint = "start one with `ray start --head`, or use --runner ray for a local one"
    if address and address != "auto":
        why = _reachable(address.removeprefix("ray://"))
        if why is not None:
            raise ConfigError(f"no Ray cluster reachable at {address} ({why}); {hint}")
    options: dict[str, Any] = {"log_to_driver": False, "logging_level": "ERROR"}
    if not address:
        options["include_dashboard"] = False
    try:
        ray.init(address=address or None, **options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"could not join the Ray cluster at {where}: {first}; {hint}") from None
    return True


def run_task(
    func: str, kwargs: dict[str, Any], hosted: bool, timeout: float, threads: int,
    sandbox: bool, env: dict[str, str],
) -> Iterator[dict[str, Any]]:  # fmt: skip
    """The body of a job's Ray task, on whatever node it landed: yields {PLACED: host}, then
    the job's progress events as {"event": ...}, then {"result": {ok, value | error}}."""
    from genesys_tui import wall
    from genesys_tui.evolve.job import _takes_progress, resolve

    yield {PLACED: socket.gethostname(), "pid": os.getpid()}
    for key, value in env.items():
        os.environ.setdefault(key, value)
    # Passive OpenMP waits, as the local runner's fork server sets them (see fork_server).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    wall.configure(sandbox=sandbox)
    events: queue.Queue[tuple[str, Any]] = queue.Queue()

    def call() -> None:
        try:
            fn = resolve(func)
            args = dict(kwargs)
            if "ladder_toml" in args:  # a ladder file that travelled as its text (jobs.portable)
                path = scratch / Path(str(args.get("ladder") or "ladder.toml")).name
                path.write_text(args.pop("ladder_toml"), encoding="utf-8")
                args["ladder"] = str(path)
            if hosted:
                gpu = os.environ.get("CUDA_VISIBLE_DEVICES", "") if _ray_gpus() else ""
                args.update(timeout=timeout, threads=threads, gpu=gpu)
            if hosted or _takes_progress(fn):
                args["progress"] = lambda event: events.put(("event", event))
            events.put(("result", {"ok": True, "value": fn(**args)}))
        except Exception as exc:
            events.put(("result", {"ok": False, "error": f"{type(exc).__name__}: {exc}"}))

    with tempfile.TemporaryDirectory(prefix="genesys-ray-job-") as tmp:
        scratch = Path(tmp)
        threading.Thread(target=call, daemon=True, name="genesys-job").start()
        while True:
            kind, item = events.get()
            yield {kind: item}
            if kind == "result":
                return


def _ray_gpus() -> int:
    import ray

    return len(ray.get_gpu_ids())


class RayRunner(PooledRunner):
    """Jobs as Ray tasks on a cluster (or a local Ray instance); see the module's docstring."""

    def __init__(
        self,
        address: str,
        results_dir: Path,
        workers: Mapping[str, int],
        retries: int = RETRIES,
        sandbox: bool | None = None,
    ) -> None:
        self.address = address
        self.retries = retries
        if sandbox is None:  # as this process was configured (--no-sandbox, settings)
            from genesys_tui import wall

            sandbox = not wall.unsandboxed()
        self.sandbox = sandbox
        self._owns = connect(address)
        super().__init__(results_dir, workers, "genesys-ray")
        ray = import_ray()
        self._ray = ray
        self._task = ray.remote(run_task)
        resources = ray.cluster_resources()
        self.gpus = int(resources.get("GPU", 0))
        # CPU verify jobs share the cluster's cores out as the local runner shares a machine's,
        # and never ask for more than the smallest node has (or they could land nowhere).
        smallest = min((n.cpus for n in self.nodes() if n.alive), default=1.0)
        share = int(resources.get("CPU", 1)) // max(sum(self.workers.values()), 1)
        self.threads = max(1, min(share, int(smallest)))
        self._running: dict[str, Any] = {}  # job id -> its task (an ObjectRefGenerator)
        self._expired: set[str] = set()  # jobs whose timeout cancelled them

    # ------------------------------------------------------------------ the Runner protocol

    def nodes(self) -> list[Node]:
        out = []
        for n in self._ray.nodes():
            res = n.get("Resources") or {}
            host = n.get("NodeManagerHostname") or n.get("NodeManagerAddress") or "?"
            out.append(Node(host, float(res.get("CPU", 0)), float(res.get("GPU", 0)),
                            bool(n.get("Alive", False))))  # fmt: skip
        return out

    def shutdown(self, cancel: bool = False) -> None:
        """Stop: with ``cancel``, kill running tasks (they leave no result and rerun on
        resume); disconnect from Ray where this runner connected."""
        self._closing = True
        if cancel:
            with self._lock:
                tasks = list(self._running.values())
            for task in tasks:
                with contextlib.suppress(Exception):
                    self._ray.cancel(task, force=True)
        self._stop_pools(cancel)
        if self._owns and self._ray.is_initialized():
            self._ray.shutdown()
            self._owns = False

    # ------------------------------------------------------------------ one job

    def _options(self, job: Job) -> dict[str, Any]:
        """What the task asks of a node: a GPU for a verify job where the cluster has GPUs,
        else the cores its training uses; a check job, one core."""
        opts: dict[str, Any] = {"max_retries": self.retries, "name": job.id}
        if job.pool == "verify" and self.gpus:
            opts.update(num_gpus=1, num_cpus=1)
        else:
            opts["num_cpus"] = self.threads if job.pool == "verify" else 1
        return opts

    def _execute(self, job: Job, on_progress: ProgressFn | None) -> JobResult:
        try:
            return self._run_task(job, on_progress)
        finally:
            with self._lock:
                self._running.pop(job.id, None)

    def _run_task(self, job: Job, on_progress: ProgressFn | None) -> JobResult:
        out = self.result_path(job.id)
        from genesys_tui.evolve.jobs import portable

        # The job carries the design's files and a ladder file's text: no node reads the
        # designs repository or shares a filesystem with this one.
        kwargs = portable(dict(job.kwargs)) if job.hosted else dict(job.kwargs)
        threads = self.threads if job.pool == "verify" and not self.gpus else 1
        env = {k: os.environ[k] for k in FORWARD_ENV if k in os.environ}
        t0 = time.monotonic()
        task = self._task.options(**self._options(job)).remote(
            job.func, kwargs, job.hosted, job.timeout, threads, self.sandbox, env
        )
        with self._lock:
            self._running[job.id] = task
        timer = threading.Timer(job.timeout + (HOST_GRACE if job.hosted else 0.0),
                                self._time_out, (job.id, task))  # fmt: skip
        result: dict[str, Any] | None = None
        try:
            for ref in task:
                item = self._ray.get(ref)
                if PLACED in item:
                    if not timer.is_alive():
                        timer.start()  # a job's time counts from when it started on a node
                    if on_progress is not None:
                        on_progress(item)
                elif "event" in item:
                    if on_progress is not None:
                        with contextlib.suppress(Exception):  # a broken subscriber is no failure
                            on_progress(item["event"])
                elif "result" in item:
                    result = item["result"]
        except self._ray.exceptions.RayError as exc:
            error = self._failure(job, exc)
        else:
            error = "" if result is not None else "the task ended without a result"
        finally:
            timer.cancel()
        seconds = time.monotonic() - t0
        with self._lock:
            expired = job.id in self._expired
            self._expired.discard(job.id)
        if expired:
            error = f"timed out after {job.timeout:.0f} s (the Ray task was cancelled)"
            value = JobResult(job.id, False, error=error, seconds=seconds)
        elif result is not None and not error:
            value = JobResult(job.id, bool(result.get("ok")), result.get("value"),
                              str(result.get("error", "")), seconds)  # fmt: skip
        else:
            value = JobResult(job.id, False, error=error, seconds=seconds)
        if self._closing and not value.ok:
            return value  # cancelled by shutdown: no result file, so a resume runs it again
        write_result(out, value)
        return value

    def _time_out(self, job_id: str, task: Any) -> None:
        with self._lock:
            self._expired.add(job_id)
        with contextlib.suppress(Exception):
            self._ray.cancel(task, force=True)

    def _failure(self, job: Job, exc: Exception) -> str:
        """Why a task ended without a result, in one line."""
        ex = self._ray.exceptions
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        if isinstance(exc, ex.TaskCancelledError):
            return "the Ray task was cancelled"
        if isinstance(exc, ex.WorkerCrashedError | ex.NodeDiedError | ex.LocalRayletDiedError):
            retried = f" (tried {self.retries + 1} times)" if self.retries else ""
            return f"the Ray worker running it died{retried}: {type(exc).__name__}"
        return f"{type(exc).__name__}: {first}"

