"""Functions the runner tests run in child processes."""

from __future__ import annotations

import os
import time


def add(a: int, b: int, progress=None) -> int:  # type: ignore[no-untyped-def]
    if progress is not None:
        for i in range(3):
            progress({"step": i})
    return a + b


def sleep(seconds: float) -> None:
    time.sleep(seconds)


def crash() -> None:
    os._exit(3)


def fail() -> None:
    raise RuntimeError("boom")


def count_runs(marker: str) -> int:
    with open(marker, "a") as fh:
        fh.write("x")
    return 1
