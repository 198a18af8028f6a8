"""The child side of the checker: the runtime checks in a walled cell (``genesys_tui.wall``).

``serve_in_cell`` runs in a cell that has imported this module, and so torch, before the check
was asked for (a check does not pay the seconds of importing it). The cell is a bubblewrap
sandbox of its own (no network, a read-only filesystem but its scratch directory, no secrets in
its environment); its stdout is already the stderr file the parent reads (a faulthandler dump
lands there on a crash). In order, before any code of the design runs: resource limits
(address space, CPU seconds, file size, no core dumps), no GPU, then the audit hook and exit
traps of ``guard.py``, a fast first layer inside the wall. Events go to the parent on the
cell's private channel, so whatever the design prints cannot forge them.
"""

from __future__ import annotations

import contextlib
import faulthandler
import importlib
import os
import resource
import select
import sys
import threading
import time
import traceback
from collections.abc import Callable
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


def _watchdog(fd: int, limit_s: float, real_exit: Callable[[int], Any]) -> None:
    """Start a thread that ends this process when the caller is gone or time is up.

    The fork server that forked this child outlives the caller while the child runs, so the
    child cannot rely on its parent dying. Instead: the caller holds the only read end of the
    event pipe, and on Linux the write end reports POLLERR once that read end is closed, by
    exit or by kill. ``limit_s`` backs up the caller's own timeout.
    """

    def watch() -> None:
        poller = select.poll()
        poller.register(fd, select.POLLERR | select.POLLHUP)
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
    # counted from now: the seconds this cell spent importing torch are not the design's
    usage = resource.getrusage(resource.RUSAGE_SELF)
    spent = int(usage.ru_utime + usage.ru_stime) + 1
    cap(resource.RLIMIT_CPU, spent + config.cpu_limit_s, spent + config.cpu_limit_s + 5)
    cap(resource.RLIMIT_FSIZE, config.output_limit_mb * 2**20)
    cap(resource.RLIMIT_CORE, 0)


def serve_in_cell(channel: Any, request: dict[str, Any]) -> None:
    """Run the runtime checks ``request`` describes, sending events through ``channel``.

    Never returns: the process ends with ``os._exit`` (0, or INTERNAL_ERROR when the checker's
    own code failed), skipping interpreter teardown that unit code could have tampered with.
    """
    faulthandler.enable(file=sys.stderr, all_threads=False)
    guard = Guard()
    real_exit = guard.real_exit
    status = 0
    try:
        out_fd = channel._out.fileno()
        _run_checks(request, guard, channel.emit, lambda limit: _watchdog(out_fd, limit, real_exit))
        channel.emit({"type": "done"})
        channel.send({"type": "return", "value": None})
    except BaseException:
        status = INTERNAL_ERROR
        with contextlib.suppress(Exception):
            channel.emit({"type": "internal", "traceback": traceback.format_exc()[-4000:]})
    finally:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        real_exit(status)


def _run_checks(req: dict[str, Any], guard: Guard, emit: Callable[[dict[str, Any]], None],
                watch: Callable[[float], None]) -> None:  # fmt: skip
    """Limits, the design, the guard, then the runtime stages."""
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
    emit({"type": "armed"})
    watch(config.timeout_s + 10.0)
    guard.install()  # from here on, design code may run
    run_stages(ctx, guard, emit)
