"""The child side of the sandbox: the runtime checks in a process of their own.

``serve`` is the target of a process forked from multiprocessing's fork server, which has
already imported this module, and so torch (a check does not pay the seconds of importing it).
In order, before any code of the design runs: a session of its own (the parent kills the whole
process group), stdout to /dev/null and stderr to a file the parent reads (a faulthandler dump
lands there on a crash), resource limits (address space, CPU seconds, file size, no core
dumps), no GPU, then the audit hook and exit traps of ``guard.py``. Events go to the parent as
JSON over a dedicated pipe, never stdout, so whatever the design prints cannot forge them.
"""

from __future__ import annotations

import contextlib
import faulthandler
import importlib
import json
import os
import resource
import select
import sys
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import torch

from genesys_tui.checker.context import RuntimeContext
from genesys_tui.checker.guard import Guard
from genesys_tui.checker.runtime import run_stages
from genesys_tui.checker.settings import CheckConfig
from genesys_tui.config import ModelConfig
from genesys_tui.design import design_from_dict, load_design
from genesys_tui.resources import library_dir

#: Exit status of a child whose own (checker) code failed, as opposed to the design's.
INTERNAL_ERROR = 70


def _redirect_output(stderr_path: str) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    null = os.open(os.devnull, os.O_RDWR)
    err = os.open(stderr_path, os.O_WRONLY | os.O_APPEND)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.dup2(err, 2)
    os.close(null)
    os.close(err)
    faulthandler.enable(file=sys.stderr, all_threads=False)


def _watchdog(conn: Connection, limit_s: float, real_exit: Callable[[int], Any]) -> None:
    """Start a thread that ends this process when the caller is gone or time is up.

    The fork server that forked this child outlives the caller while the child runs, so the
    child cannot rely on its parent dying. Instead: the caller holds the only read end of the
    event pipe, and on Linux the write end reports POLLERR once that read end is closed, by
    exit or by kill. ``limit_s`` backs up the caller's own timeout.
    """

    def watch() -> None:
        poller = select.poll()
        poller.register(conn.fileno(), select.POLLERR | select.POLLHUP)
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            if poller.poll(250):
                break
        real_exit(INTERNAL_ERROR)

    threading.Thread(target=watch, name="genesys-check-watchdog", daemon=True).start()


def _limit(config: CheckConfig) -> None:
    def cap(which: int, soft: int, hard: int | None = None) -> None:
        _, old_hard = resource.getrlimit(which)
        hard = soft if hard is None else hard
        if old_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, old_hard), min(hard, old_hard)
        resource.setrlimit(which, (soft, hard))

    cap(resource.RLIMIT_AS, config.memory_limit_mb * 2**20)
    # SIGXCPU at the soft limit ends the child with a signal the parent names; the hard limit
    # a little later is the kernel's own backstop.
    cap(resource.RLIMIT_CPU, config.cpu_limit_s, config.cpu_limit_s + 5)
    cap(resource.RLIMIT_FSIZE, config.output_limit_mb * 2**20)
    cap(resource.RLIMIT_CORE, 0)


def serve(request: bytes, conn: Connection) -> None:
    """Run the runtime checks that ``request`` (JSON) describes, sending events on ``conn``.

    Never returns: the process ends with ``os._exit`` (0, or INTERNAL_ERROR when the checker's
    own code failed), skipping interpreter teardown that unit code could have tampered with.
    """
    guard = Guard()
    real_exit = guard.real_exit
    status = 0

    def emit(event: dict[str, Any]) -> None:
        conn.send_bytes(json.dumps(event, default=str).encode())

    try:
        os.setsid()
        req = json.loads(request)
        _redirect_output(req["stderr_path"])
        config = CheckConfig.from_dict(req["config"])
        _limit(config)
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # checks run on the CPU, at tiny sizes
        torch.set_num_threads(config.threads)
        reference = load_design(library_dir() / config.reference)  # trusted, read before the hook
        design = design_from_dict(req["design"], req["sources"], req["path"])
        ctx = RuntimeContext(
            design=design,
            reference=reference,
            config=config,
            tiny=ModelConfig(**req["tiny"]),
            budget=ModelConfig(**req["budget"]),
            rung=req.get("rung"),
        )
        if ctx.rung is not None:
            # Sizing to a rung builds on the meta device, whose first use imports torch's
            # compiler stack, which creates a cache directory: do it before the hook refuses.
            importlib.import_module("torch._dynamo")
        emit({"type": "ready", "pid": os.getpid()})
        _watchdog(conn, config.timeout_s + 10.0, real_exit)
        guard.install()  # from here on, design code may run
        run_stages(ctx, guard, emit)
        emit({"type": "done"})
    except BaseException:  # whatever happened, report it and end this process
        status = INTERNAL_ERROR
        # If the parent is gone or the pipe is broken, there is no one left to tell.
        with contextlib.suppress(Exception):
            emit({"type": "internal", "traceback": traceback.format_exc()[-4000:]})
    finally:
        try:
            conn.close()
            sys.stderr.flush()
        finally:
            real_exit(status)
