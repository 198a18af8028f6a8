"""The child side of a runner job.

A request is {"func": "module:function", "kwargs": {...}, "result": PATH}: call the function
(passing ``progress=`` when it takes one) and write {"ok", "value" | "error", "seconds"}
atomically to PATH. The runner calls ``run_request`` in a forked child; ``python -m
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
import time
import traceback
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


def main(argv: list[str]) -> int:
    """Run one request file in this process (for debugging a job by hand)."""
    run_request(json.loads(Path(argv[1]).read_text(encoding="utf-8")), _progress_writer())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
