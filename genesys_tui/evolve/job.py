"""The child side of a runner job.

A request is {"func": "module:function", "kwargs": {...}, "result": PATH}: call the function
(passing ``progress=`` when it takes one) and write {"ok", "value" | "error", "seconds"}
atomically to PATH. The local runner forks a child that enters ``child_main`` (it isolates
itself, then calls ``run_request``); ``python -m
genesys_tui.evolve.job REQUEST.json`` runs one request by hand, progress going to the file
descriptor named by GENESYS_PROGRESS_FD if set.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import os
import sys
import threading
import time
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any


def _progress_writer() -> Any:
    fd = os.environ.get("GENESYS_PROGRESS_FD")
    if not fd:
        return None
    stream = os.fdopen(int(fd), "w", buffering=1)

    def progress(event: dict[str, Any]) -> None:
        with contextlib.suppress(BrokenPipeError, ValueError):
            stream.write(json.dumps(event, default=str) + "\n")

    return progress


def _takes_progress(func: Any) -> bool:
    try:
        return "progress" in inspect.signature(func).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False


def resolve(func: str) -> Any:
    """The function a job names as ``"package.module:function"``."""
    module_name, _, func_name = func.partition(":")
    return getattr(importlib.import_module(module_name), func_name)


def run_request(request: dict[str, Any], progress: Any = None) -> None:
    """Call the requested function and write its result file atomically."""
    out = Path(request["result"])
    t0 = time.monotonic()
    try:
        func = resolve(request["func"])
        kwargs = dict(request["kwargs"])
        if progress is not None and _takes_progress(func):
            kwargs["progress"] = progress
        value = func(**kwargs)
        result = {"ok": True, "value": value}
    except Exception as exc:
        result = {
            "ok": False,
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(limit=8),
        }
    result["seconds"] = time.monotonic() - t0
    tmp = out.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(result, default=str), encoding="utf-8")
    os.replace(tmp, out)


def _watch_owner(pid: int) -> None:
    """End this job when the process that started it is gone (killed with SIGKILL, say):
    the job leads its own process group, so nothing else would stop it."""
    while True:
        time.sleep(1.0)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(70)
        except PermissionError:
            continue


def child_main(request: dict[str, Any], send: Connection) -> None:
    """Entry point of a job's child: isolate, run the function, write the result file."""
    os.setsid()
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    devnull = os.open(os.devnull, os.O_RDONLY)
    # Progress bars and prints of libraries go to the job's log, not the terminal the
    # dashboard draws on.
    os.dup2(devnull, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.environ.update(request.get("env") or {})

    def progress(event: dict[str, Any]) -> None:
        with contextlib.suppress(BrokenPipeError, OSError, ValueError):
            send.send(event)

    threading.Thread(target=_watch_owner, args=(int(request["owner"]),), daemon=True).start()
    threads = int(request.get("threads") or 0)
    if threads:
        os.environ["OMP_NUM_THREADS"] = str(threads)
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(threads)

    run_request(request, progress)


def main(argv: list[str]) -> int:
    """Run one request file in this process (for debugging a job by hand)."""
    run_request(json.loads(Path(argv[1]).read_text(encoding="utf-8")), _progress_writer())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
