"""A loss curve as a braille line plot: two dots across and four down per character cell.

The y axis is labelled with the highest and lowest loss shown, the x axis with the first and
last step. Consecutive points are joined, so a curve sampled more coarsely than the plot's
resolution still reads as a line.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widget import Widget

_DOTS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))  # [row][col] braille bits


def braille_plot(points: Sequence[tuple[float, float]], width: int, height: int) -> list[str]:
    """``height`` lines of ``width`` braille characters drawing ``points`` (x, y) scaled to fit.

    Pure function: the widget adds axes and colour.
    """
    if width < 1 or height < 1:
        return []
    cells = [[0] * width for _ in range(height)]
    if points:
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
        w, h = 2 * width - 1, 4 * height - 1

        def dot(x: float, y: float) -> tuple[int, int]:
            px = round((x - x0) / (x1 - x0) * w) if x1 > x0 else 0
            py = round((y1 - y) / (y1 - y0) * h) if y1 > y0 else h // 2
            return px, py

        dots = [dot(x, y) for x, y in points]
        for (ax, ay), (bx, by) in zip(dots, dots[1:] or dots, strict=False):
            steps = max(abs(bx - ax), abs(by - ay), 1)
            for i in range(steps + 1):
                px = ax + (bx - ax) * i // steps
                py = ay + (by - ay) * i // steps
                cells[py // 4][px // 2] |= _DOTS[py % 4][px % 2]
    return ["".join(chr(0x2800 + c) if c else " " for c in row) for row in cells]


def _short(value: float) -> str:
    return f"{value:.3g}"


class LossPlot(Widget):
    DEFAULT_CSS = """
    LossPlot { height: 10; color: $primary; }
    LossPlot.empty { height: 1; }
    """

    def __init__(self, points: Sequence[tuple[int, float]] = (), **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.points = [(float(s), float(v)) for s, v in points]
        self.set_class(not self.points, "empty")

    def set_points(self, points: Sequence[tuple[int, float]]) -> None:
        self.points = [(float(s), float(v)) for s, v in points]
        self.set_class(not self.points, "empty")
        self.refresh()

    def render(self) -> Text:
        width, height = self.content_size.width, self.content_size.height
        if not self.points:
            return Text("no loss curve recorded for this rung", style="dim")
        ys = [p[1] for p in self.points]
        top, bottom = _short(max(ys)), _short(min(ys))
        gutter = max(len(top), len(bottom)) + 1
        lines = braille_plot(self.points, max(width - gutter - 1, 1), max(height - 1, 1))
        out = Text()
        for i, line in enumerate(lines):
            label = top if i == 0 else bottom if i == len(lines) - 1 else ""
            out.append(f"{label:>{gutter - 1}} ", style="dim")
            out.append("┤" if label else "│", style="dim")
            out.append(line)
            out.append("\n")
        first, last = f"{self.points[0][0]:.0f}", f"{self.points[-1][0]:.0f} steps"
        axis = " " * gutter + "└" + first
        axis += last.rjust(max(width - len(axis), len(last) + 1))
        out.append(axis, style="dim")
        return out
