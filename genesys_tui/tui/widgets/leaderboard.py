"""The leaderboard: every design with what it has shown on the ladder, sortable and filtered.

A virtual table (Textual's line API): only the rows on screen are rendered, so a namespace of
thousands of designs opens and scrolls as fast as one of ten (Textual's DataTable measures
every cell of every row as rows are added, seconds at 5,000 designs). ``s`` cycles the sort
column and ``r`` reverses it, a click on a header sorts by it; designs without a value sort
last either way. Enter (or a click on the highlighted row) asks for the design's inspector.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from genesys_tui.tui.board import COLUMNS, BoardRow, fmt, matches
from genesys_tui.tui.widgets.palette import colours, glyph, signed

SORTABLE = [key for key, _ in COLUMNS if key != "why"]  # "why" is words: nothing to order by
#: Least column widths in cells; "parents" (or, once it is dropped, "design") takes what is left.
WIDTHS = {
    "status": 1,
    "design": 18,
    "parents": 12,
    "designer": 15,
    "rungs": 5,
    "bpb": 6,
    "eval": 5,
    "fitness": 8,
    "why": 22,
}
#: Columns a narrow board drops, first to last: the ladder's figures stay longest.
DROP_ORDER = ("why", "parents", "designer", "eval")
RIGHT = {"rungs", "bpb", "eval", "fitness"}
DESCENDING_FIRST = {"rungs", "eval", "fitness"}
#: Columns a design that stopped without a score (rejected, failed) spans with its reason.
REASON_SPAN = ("rungs", "bpb", "eval", "fitness")


class Leaderboard(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    Leaderboard { background: $surface; scrollbar-size-vertical: 1; overflow-x: hidden; }
    Leaderboard > .leaderboard--header { text-style: bold; background: $panel; }
    Leaderboard > .leaderboard--cursor { background: $block-cursor-blurred-background; }
    Leaderboard:focus > .leaderboard--cursor {
        background: $block-cursor-background; color: $block-cursor-foreground;
        text-style: $block-cursor-text-style;
    }
    Leaderboard > .leaderboard--odd { background: $surface-lighten-1; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "leaderboard--header",
        "leaderboard--cursor",
        "leaderboard--odd",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "inspect", "inspect"),
        Binding("s", "cycle_sort", "sort"),
        Binding("r", "reverse_sort", "reverse", show=False),
        Binding("up", "cursor(-1)", "up", show=False),
        Binding("down", "cursor(1)", "down", show=False),
        Binding("pageup", "page(-1)", "page up", show=False),
        Binding("pagedown", "page(1)", "page down", show=False),
        Binding("home", "cursor_to(0)", "first", show=False),
        Binding("end", "cursor_to(-1)", "last", show=False),
    ]

    cursor = reactive(0, always_update=True, repaint=False)

    class Inspect(Message):
        def __init__(self, design: str) -> None:
            super().__init__()
            self.design = design

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.rows_by_id: dict[str, BoardRow] = {}
        self.shown: list[BoardRow] = []  # the rows on the board, filtered and sorted
        self._position: dict[str, int] = {}
        self.query_text = ""
        self.sort_column = "fitness"
        self.descending = True
        self._palette: dict[str, str] | None = None
        self._cells: dict[str, dict[str, Text]] = {}  # rendered cells by design, until it changes

    # ---- content ---------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self.shown)

    def load(self, rows: Iterable[BoardRow]) -> None:
        """Replace every row."""
        self.rows_by_id = {r.design: r for r in rows}
        self._cells.clear()
        self._reshow()

    def upsert(self, row: BoardRow) -> None:
        """Add or update one design's row, keeping the sort and the filter."""
        self.rows_by_id[row.design] = row
        self._cells.pop(row.design, None)
        self._reshow()

    def set_filter(self, query: str) -> None:
        """Show only rows matching every word of ``query`` (see ``board.matches``)."""
        if query.strip() != self.query_text:
            self.query_text = query.strip()
            self._reshow()

    def relabel(self) -> None:
        """Recolour every row (the theme changed)."""
        self._palette = None
        self._cells.clear()
        self.refresh()

    def _reshow(self) -> None:
        current = self.highlighted_design
        rows = (r for r in self.rows_by_id.values() if matches(r, self.query_text))
        self.shown = self._ordered(rows)
        self._position = {row.design: i for i, row in enumerate(self.shown)}
        self.virtual_size = Size(self._total_width(), len(self.shown) + 1)
        at = self._position.get(current, self.cursor) if current is not None else self.cursor
        self.cursor = max(0, min(at, len(self.shown) - 1))
        self.refresh()

    def _ordered(self, rows: Iterable[BoardRow]) -> list[BoardRow]:
        column, descending = self.sort_column, self.descending

        def key(row: BoardRow) -> tuple[object, ...]:
            none_last, value, seq = row.sort_key(column)
            if descending and not none_last:
                value = -value if isinstance(value, (int, float)) else _Reverse(value)
            return (none_last, value, seq)

        return sorted(rows, key=key)

    # ---- sorting ---------------------------------------------------------------------------

    def sort_by(self, column: str, descending: bool | None = None) -> None:
        self.sort_column = column
        self.descending = column in DESCENDING_FIRST if descending is None else descending
        self._reshow()

    def action_cycle_sort(self) -> None:
        i = SORTABLE.index(self.sort_column)
        self.sort_by(SORTABLE[(i + 1) % len(SORTABLE)])
        self.notify(f"sorted by {self.sort_column}", timeout=1.5)

    def action_reverse_sort(self) -> None:
        self.sort_by(self.sort_column, not self.descending)

    # ---- cursor ----------------------------------------------------------------------------

    @property
    def highlighted_design(self) -> str | None:
        if not self.shown:
            return None
        return self.shown[min(self.cursor, len(self.shown) - 1)].design

    def watch_cursor(self, old: int, new: int) -> None:
        top, visible = int(self.scroll_offset.y), max(self.size.height - 1, 1)
        if new < top:
            self.scroll_to(y=new, animate=False, immediate=True)
        elif new >= top + visible:
            self.scroll_to(y=new - visible + 1, animate=False, immediate=True)
        else:  # only the two rows whose highlight changed are drawn again
            self.refresh_lines(old - top + 1)
            self.refresh_lines(new - top + 1)

    def action_cursor(self, delta: int) -> None:
        if self.shown:
            self.cursor = max(0, min(self.cursor + delta, len(self.shown) - 1))

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(self.size.height - 2, 1))

    def action_cursor_to(self, row: int) -> None:
        if self.shown:
            self.cursor = row % len(self.shown)

    def select_design(self, design: str) -> bool:
        if design not in self._position:
            return False
        self.cursor = self._position[design]
        return True

    def action_inspect(self) -> None:
        design = self.highlighted_design
        if design is not None:
            self.post_message(self.Inspect(design))

    def on_click(self, event: events.Click) -> None:
        y = event.y
        if y == 0:
            column = self._column_at(event.x + int(self.scroll_offset.x))
            if column in SORTABLE:
                same = column == self.sort_column
                self.sort_by(column, not self.descending if same else None)
            return
        row = y - 1 + int(self.scroll_offset.y)
        if 0 <= row < len(self.shown):
            if row == self.cursor and event.chain > 1:
                self.action_inspect()
            self.cursor = row

    # ---- rendering -------------------------------------------------------------------------

    def _widths(self) -> dict[str, int]:
        """The columns shown at the board's width, with their widths: a narrow board drops
        ``DROP_ORDER`` columns in turn; what is left over widens parents (else design)."""
        widths = dict(WIDTHS)
        room = self.size.width - 1  # the vertical scrollbar
        for key in DROP_ORDER:
            if sum(w + 2 for w in widths.values()) <= room:
                break
            del widths[key]
        flex = "parents" if "parents" in widths else "design"
        widths[flex] += max(room - sum(w + 2 for w in widths.values()), 0)
        return widths

    def _total_width(self) -> int:
        return sum(w + 2 for w in self._widths().values())

    def _column_at(self, x: int) -> str | None:
        left = 0
        for key, width in self._widths().items():
            if left <= x < left + width + 2:
                return key
            left += width + 2
        return None

    def _row_cells(self, row: BoardRow) -> dict[str, Text]:
        cells = self._cells.get(row.design)
        if cells is None:
            if self._palette is None:
                self._palette = colours(self.app)
            p = self._palette
            cells = {
                "status": glyph(row.status, p),
                "design": Text(row.design, style="bold"),
                "parents": Text(", ".join(row.parents) or "-"),
                "designer": Text(row.designer),
                "rungs": Text(str(row.rungs)),
                "bpb": Text(fmt(row.bpb, ".4f")),
                "eval": Text(fmt(row.evaluation, ".3f")),
                "fitness": signed(row.fitness, p),
                "why": Text(row.why, style=p["muted"]),
            }
            if row.reason and not row.rungs:  # nothing to score: say why instead
                cells["reason"] = Text(row.reason, style=p["bad"])
            self._cells[row.design] = cells
        return cells

    def _header_cells(self) -> dict[str, Text]:
        out = {}
        for key, label in COLUMNS:
            if key == self.sort_column:
                label = f"{label}{'▼' if self.descending else '▲'}"
            out[key] = Text(label)
        return out

    def _line(self, cells: dict[str, Text], style: Style) -> Strip:
        """One row: each shown column's cell, or the reason across ``REASON_SPAN``."""
        spans: list[tuple[str, int]] = []
        for key, width in self._widths().items():
            if "reason" in cells and key in REASON_SPAN:
                if spans and spans[-1][0] == "reason":
                    spans[-1] = ("reason", spans[-1][1] + width + 2)
                    continue
                key = "reason"
            spans.append((key, width))
        segments: list[Segment] = []
        for key, width in spans:
            text = cells[key].copy()
            text.truncate(width, overflow="ellipsis")
            if key in RIGHT:
                text.pad_left(width - text.cell_len)
            else:
                text.pad_right(width - text.cell_len)
            segments.append(Segment(" ", style))
            segments.extend(
                Segment(s.text, style + s.style if s.style else style)
                for s in text.render(self.app.console)
            )
            segments.append(Segment(" ", style))
        return Strip(segments)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        scroll_x = int(self.scroll_offset.x)
        base = self.rich_style
        if y == 0:
            style = base + self.get_component_rich_style("leaderboard--header")
            strip = self._line(self._header_cells(), style)
        else:
            index = y - 1 + int(self.scroll_offset.y)
            if index >= len(self.shown):
                return Strip.blank(width, base)
            style = base
            if index % 2:
                style += self.get_component_rich_style("leaderboard--odd")
            if index == self.cursor:
                style += self.get_component_rich_style("leaderboard--cursor")
            strip = self._line(self._row_cells(self.shown[index]), style)
        return strip.crop_extend(scroll_x, scroll_x + width, style)

    def on_resize(self) -> None:
        self.virtual_size = Size(self._total_width(), len(self.shown) + 1)


class _Reverse:
    """Inverts the order of a non-numeric value (descending text sorts)."""

    def __init__(self, value: object) -> None:
        self.value = value

    def __lt__(self, other: _Reverse) -> bool:
        return other.value < self.value  # type: ignore[operator]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reverse) and other.value == self.value
