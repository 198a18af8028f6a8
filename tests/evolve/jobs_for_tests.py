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


def matmul_speed() -> dict:
    import time

    import torch

    out = {"threads": torch.get_num_threads()}
    a = torch.randn(256, 256)
    t = time.perf_counter()
    for _ in range(200):
        a @ a
    out["matmul_s"] = time.perf_counter() - t
    return out


def verify_threads(threads: int) -> float:
    import time

    import torch

    from genesys_tui.evolve.jobs import verify_job

    torch.set_num_threads(threads)
    t = time.perf_counter()
    verify_job("library/gpt", "cpu-xs", "cpu")
    return time.perf_counter() - t
