"""CPU, memory and GPU samples for the resources panel, behind one small interface.

``SystemSampler`` reads psutil and, where an NVIDIA driver answers, NVML (nvidia-ml-py); without
one its samples say why there is no GPU and carry on. ``FixedSampler`` replays given samples,
so tests and screenshots show the same figures every time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class GpuSample:
    index: int
    name: str
    utilization: float  # percent of the last sample period the GPU was busy
    memory_used: int  # bytes
    memory_total: int  # bytes

    @property
    def memory_percent(self) -> float:
        return 100.0 * self.memory_used / self.memory_total if self.memory_total else 0.0


@dataclass(frozen=True)
class ResourceSample:
    cpu_percent: float  # all cores together, 0..100
    memory_used: int  # bytes
    memory_total: int  # bytes
    gpus: tuple[GpuSample, ...] = field(default_factory=tuple)
    no_gpu: str = ""  # why there are no GPUs ("no NVIDIA driver"); empty when there are

    @property
    def memory_percent(self) -> float:
        return 100.0 * self.memory_used / self.memory_total if self.memory_total else 0.0


class Sampler(Protocol):
    def sample(self) -> ResourceSample: ...

    def close(self) -> None: ...


class SystemSampler:
    """Live figures of this machine. NVML is initialised once; failure means "no GPU"."""

    def __init__(self) -> None:
        import psutil

        self._psutil = psutil
        psutil.cpu_percent(interval=None)  # the first call only starts the measurement
        self._nvml = None
        self._handles: list[object] = []
        self.no_gpu = ""
        try:
            import pynvml

            pynvml.nvmlInit()
            self._nvml = pynvml
            count = pynvml.nvmlDeviceGetCount()
            self._handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
            self._names = [_text(pynvml.nvmlDeviceGetName(h)) for h in self._handles]
            if not self._handles:
                self.no_gpu = "no GPU (the NVIDIA driver sees none)"
        except Exception as exc:  # no library, no driver, no device: all mean "no GPU"
            self.no_gpu = f"no GPU ({_reason(exc)})"
            self._handles = []

    def sample(self) -> ResourceSample:
        mem = self._psutil.virtual_memory()
        gpus = []
        for i, handle in enumerate(self._handles):
            try:
                util = self._nvml.nvmlDeviceGetUtilizationRates(handle)  # type: ignore[union-attr]
                info = self._nvml.nvmlDeviceGetMemoryInfo(handle)  # type: ignore[union-attr]
            except Exception:  # a device that stops answering is skipped, not fatal
                continue
            gpus.append(GpuSample(i, self._names[i], float(util.gpu), info.used, info.total))
        return ResourceSample(
            cpu_percent=float(self._psutil.cpu_percent(interval=None)),
            memory_used=int(mem.total - mem.available),
            memory_total=int(mem.total),
            gpus=tuple(gpus),
            no_gpu=self.no_gpu if not gpus else "",
        )

    def close(self) -> None:
        if self._nvml is not None:
            with contextlib.suppress(Exception):
                self._nvml.nvmlShutdown()
            self._nvml = None


class FixedSampler:
    """Replays ``samples`` in order, then the last one forever."""

    def __init__(self, samples: Sequence[ResourceSample]) -> None:
        if not samples:
            raise ValueError("FixedSampler needs at least one sample")
        self.samples = list(samples)
        self._next = 0

    def sample(self) -> ResourceSample:
        out = self.samples[min(self._next, len(self.samples) - 1)]
        self._next += 1
        return out

    def close(self) -> None:
        pass


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ImportError):
        return "nvidia-ml-py is not installed"
    text = str(exc) or type(exc).__name__
    return "no NVIDIA driver" if "Driver" in text or "Library" in text else text[:60]
