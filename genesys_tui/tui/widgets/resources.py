"""Resources: CPU, memory and per-GPU utilisation and memory, as sparklines of recent samples.

The panel asks its sampler for a sample every ``interval`` seconds (never with 0; tests feed it
samples through ``record``). Without an NVIDIA driver it says "no GPU" and carries on.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, Static

from genesys_tui.tui.sampler import ResourceSample, Sampler


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f}"


BARS = " ▁▂▃▄▅▆▇█"


def spark(values: Sequence[float], width: int) -> str:
    """The last ``width`` percentages as bars on a fixed 0..100 scale (Textual's Sparkline
    scales to the data's own range, which makes a 1 % wobble look like a full load)."""
    tail = list(values)[-width:] if width > 0 else []
    bars = [BARS[min(round(v / 100 * (len(BARS) - 1)), len(BARS) - 1)] for v in tail]
    return " " * (width - len(bars)) + "".join(bars)


class Spark(Static):
    """A one-line sparkline of percentages, newest on the right."""

    DEFAULT_CSS = """
    Spark { width: 1fr; height: 1; color: $primary; margin-right: 1; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.values: list[float] = []

    def render(self) -> str:
        return spark(self.values, self.content_size.width)


class Meter(Horizontal):
    """One figure: a name, its sparkline and the latest value."""

    DEFAULT_CSS = """
    Meter { height: 1; }
    Meter .name { width: 6; color: $foreground-muted; }
    Meter .value { width: 16; }
    """

    def __init__(self, name: str, history: int, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.title = name
        self.values: deque[float] = deque(maxlen=history)

    def compose(self) -> ComposeResult:
        yield Label(self.title, classes="name")
        yield Spark()
        yield Label("", classes="value")

    def push(self, percent: float, text: str) -> None:
        self.values.append(max(0.0, min(percent, 100.0)))
        line = self.query_one(Spark)
        line.values = list(self.values)
        line.refresh()
        self.query_one(".value", Label).update(text)


class ResourcesPanel(Vertical):
    DEFAULT_CSS = """
    ResourcesPanel { background: $surface; height: auto; }
    ResourcesPanel .nogpu { color: $foreground-muted; }
    """

    def __init__(
        self, sampler: Sampler, interval: float = 1.0, history: int = 60, **kwargs: object
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.sampler = sampler
        self.interval = interval
        self.history = history
        self._gpus: dict[int, tuple[Meter, Meter]] = {}

    def compose(self) -> ComposeResult:
        yield Meter("CPU", self.history, id="cpu")
        yield Meter("mem", self.history, id="mem")
        yield Static("", classes="nogpu", id="nogpu")

    def on_mount(self) -> None:
        self.record(self.sampler.sample())
        if self.interval > 0:
            self.set_interval(self.interval, self._tick)

    def _tick(self) -> None:
        self.record(self.sampler.sample())

    def on_unmount(self) -> None:
        self.sampler.close()

    def record(self, sample: ResourceSample) -> None:
        """Show one sample (appended to each sparkline)."""
        self.query_one("#cpu", Meter).push(sample.cpu_percent, f"{sample.cpu_percent:5.1f} %")
        self.query_one("#mem", Meter).push(
            sample.memory_percent,
            f"{_gib(sample.memory_used)}/{_gib(sample.memory_total)} GiB",
        )
        nogpu = self.query_one("#nogpu", Static)
        nogpu.display = not sample.gpus
        nogpu.update(sample.no_gpu or "no GPU")
        for gpu in sample.gpus:
            if gpu.index not in self._gpus:
                util = Meter(f"GPU{gpu.index}", self.history)
                mem = Meter("  mem", self.history)
                self._gpus[gpu.index] = (util, mem)
                self.mount(util, mem)
                util.call_after_refresh(util.push, gpu.utilization, f"{gpu.utilization:5.1f} %")
                mem.call_after_refresh(
                    mem.push,
                    gpu.memory_percent,
                    f"{_gib(gpu.memory_used)}/{_gib(gpu.memory_total)} GiB",
                )
                continue
            util, mem = self._gpus[gpu.index]
            util.push(gpu.utilization, f"{gpu.utilization:5.1f} %")
            mem.push(gpu.memory_percent, f"{_gib(gpu.memory_used)}/{_gib(gpu.memory_total)} GiB")
