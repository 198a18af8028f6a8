"""The design inspector (Enter on a design): proposal and review, the unit tree, each unit's
code, the diff against each parent, the checker's findings, and per rung the loss curve and
the evaluation table. Everything is read off the UI thread; code is highlighted, never run.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import (
    DataTable,
    Footer,
    Header,
    Markdown,
    Static,
    Tab,
    TabbedContent,
    TabPane,
    Tabs,
    Tree,
)

from genesys_tui.tui.board import shown_status
from genesys_tui.tui.details import DesignDetails, RungDetail
from genesys_tui.tui.widgets.palette import colours, glyph, signed
from genesys_tui.tui.widgets.plot import LossPlot

TABS = (
    ("proposal", "Proposal", "p"),
    ("units", "Units", "u"),
    ("code", "Code", "c"),
    ("diff", "Diff", "d"),
    ("checks", "Checks", "k"),
    ("rungs", "Rungs", "l"),
)


def stop_reasons(d: DesignDetails) -> list[str]:
    """Why the design was rejected or failed, a line each: the store's reason (its check or
    failure), each rung whose verification failed, or that none was recorded."""
    r = d.record
    lines = []
    if r.reason:
        lines.append(f"{r.status}: {r.reason}")
    lines += [
        f"{rung.rung} failed: {rung.reason or 'no reason recorded'}"
        for rung in d.rungs
        if not rung.ok
    ]
    if not lines and r.status in ("rejected", "failed"):
        lines.append(f"{r.status}: no reason recorded")
    return lines


class InspectorScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "app.pop_screen", "back"),
        Binding("question_mark", "app.help", "help"),
        *(Binding(key, f"tab('{tab}')", title) for tab, title, key in TABS),
        Binding("left_square_bracket", "file(-1)", "previous file", show=False),
        Binding("right_square_bracket", "file(1)", "next file", show=False),
    ]

    def __init__(self, design: str) -> None:
        super().__init__()
        self.design = design
        self.details: DesignDetails | None = None
        self._code_file: str | None = None

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Static(f"loading {self.design} …", id="facts")
        with TabbedContent(id="tabs"):
            for tab, title, _key in TABS:
                with TabPane(title, id=tab):
                    yield VerticalScroll(id=f"{tab}-body")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = self.design

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    @property
    def active_tab(self) -> str:
        return self.query_one(TabbedContent).active

    @property
    def code_file(self) -> str | None:
        """The unit file the Code tab shows."""
        return self._code_file

    def action_file(self, step: int) -> None:
        """Show the previous or next unit file in the Code tab (and go there)."""
        files = self.details.code_files if self.details is not None else []
        if not files:
            return
        self.action_tab("code")
        at = files.index(self._code_file) if self._code_file in files else 0
        self.query_one("#code-files", Tabs).active = f"file-{(at + step) % len(files)}"

    def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        if event.tabs.id != "code-files" or self.details is None or event.tab.id is None:
            return
        event.stop()
        self._show_file(self.details.code_files[int(event.tab.id.removeprefix("file-"))])

    def _show_file(self, path: str) -> None:
        assert self.details is not None
        self._code_file = path
        code = Syntax(
            self.details.files[path], "python", line_numbers=True, theme=self._syntax_theme()
        )
        self.query_one("#code-view", Static).update(code)

    # ---- filling -----------------------------------------------------------------------------

    def show(self, details: DesignDetails) -> None:
        """Fill every tab from ``details`` (called on the UI thread once they are read)."""
        self.details = details
        self.query_one("#facts", Static).update(self._facts(details))
        self._fill("proposal", self._proposal(details))
        self._fill("units", self._units(details))
        self._fill("code", *self._code(details))
        self._fill("diff", *self._diffs(details))
        self._fill("checks", *self._checks(details))
        self._fill("rungs", *self._rungs(details))

    def _fill(self, tab: str, *widgets: Any) -> None:
        body = self.query_one(f"#{tab}-body", VerticalScroll)
        body.remove_children()
        body.mount_all(widgets)

    def _facts(self, d: DesignDetails) -> Text:
        """Why a design stopped comes first, where it stopped; then what it is."""
        r = d.record
        palette = colours(self.app)
        status = shown_status(r)
        text = Text()
        for line in stop_reasons(d):
            text.append(f"{line}\n", style=palette["bad"])
        text.append_text(
            Text.assemble(glyph(status, palette), " ", (r.id, "bold"), f"  {r.title}\n")
        )
        created = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(r.created))
        text.append(
            f"{r.status} · {r.origin} of {', '.join(r.parents) or 'nothing'} · by {r.designer}"
            f" · {created} · cost ${r.cost_usd:.2f} · fitness "
        )
        text.append_text(signed(r.fitness, palette))
        for rung in d.rungs:
            for note in rung.notes:
                text.append(f"\n{rung.rung}: {note}", style=palette["muted"])
        if d.terms:
            text.append("\nfitness terms (what each adds over the library seeds):\n")
            text.append(d.terms, style=palette["muted"])
        if d.margins:
            text.append("\nagainst the seeds (a seed is beaten only above 2 sigma):\n")
            text.append(d.margins, style=palette["muted"])
        return text

    @staticmethod
    def _proposal(d: DesignDetails) -> Markdown:
        parts = [d.files.get("proposal.md") or f"# {d.record.title}\n\n{d.summary}"]
        if d.files.get("review.md"):
            parts.append("---\n\n# Review\n\n" + d.files["review.md"])
        if d.files.get("FAILURE.md"):
            parts.append("---\n\n" + d.files["FAILURE.md"])
        return Markdown("\n\n".join(parts))

    @staticmethod
    def _units(d: DesignDetails) -> Tree[str] | Static:
        if not d.units:
            return Static(d.unit_error or "this design has no units")
        tree: Tree[str] = Tree(Text(d.record.name, style="bold"), id="unit-tree")
        tree.show_root = True
        stack = [tree.root]
        for line in d.units:
            del stack[line.depth + 1 :]
            args = ", ".join(f"{k}={v}" for k, v in line.args.items())
            label = Text.assemble(
                (f"{line.slot}: " if line.slot else "", "dim"),
                (line.uid, "bold"),
                f" = {line.cls} ",
                (f"({line.role})", "dim"),
                f" {args}" if args else "",
            )
            stack.append(stack[-1].add(label, data=line.file, expand=True))
        tree.root.expand_all()
        return tree

    def _syntax_theme(self) -> str:
        return "monokai" if self.app.current_theme.dark else "default"

    def _code(self, d: DesignDetails) -> list[Widget]:
        """A tab per unit file (``[`` and ``]`` step through them) above the file's code."""
        if not d.code_files:
            return [Static("this design has no unit code")]
        first = d.code_files[0]
        self._code_file = first
        tabs = Tabs(*(Tab(p, id=f"file-{i}") for i, p in enumerate(d.code_files)), id="code-files")
        code = Syntax(d.files[first], "python", line_numbers=True, theme=self._syntax_theme())
        return [tabs, Static(code, id="code-view")]

    def _diffs(self, d: DesignDetails) -> list[Static]:
        out: list[Static] = []
        for parent, diff in d.diffs.items():
            title = f"against {parent}" if parent else "the whole design (a root has no parent)"
            out.append(Static(Text(title, style="bold"), classes="file-title"))
            out.append(Static(Syntax(diff or "(no changes)", "diff", theme=self._syntax_theme())))
        return out

    @staticmethod
    def _checks(d: DesignDetails) -> list[Any]:
        if d.check is None:
            return [Static("not checked yet")]
        verdict = "passed" if d.check.ok else "rejected"
        seconds = d.check.seconds
        head = f"**{verdict}**" + (f" in {seconds:.1f} s" if seconds else "")
        head += f": {d.check.summary}"
        findings = d.check.findings
        if not findings:
            return [Markdown(head + "\n\nNo findings.")]
        # A Rich table in a Static: the message and hint columns wrap instead of being cut.
        table = Table(expand=True, show_edge=False, row_styles=["", "dim"], header_style="bold")
        table.add_column("severity", no_wrap=True)
        table.add_column("check", no_wrap=True)
        table.add_column("where", no_wrap=True)
        table.add_column("message", ratio=3, overflow="fold")
        table.add_column("hint", ratio=2, overflow="fold")
        for f in findings:
            where = f.get("file") or f.get("unit") or f.get("stage") or ""
            if f.get("line"):
                where += f":{f['line']}"
            table.add_row(
                str(f.get("severity", "")),
                str(f.get("check", "")),
                where,
                str(f.get("message", "")),
                str(f.get("hint", "")),
            )
        return [Markdown(head), Static(table, id="findings")]

    def _rungs(self, d: DesignDetails) -> list[Any]:
        if not d.rungs:
            return [Static("not verified at any rung yet")]
        out: list[Any] = []
        for rung in d.rungs:
            out.append(Static(self._rung_title(rung), classes="file-title"))
            out.append(LossPlot(rung.curve))
            out.append(self._scores(rung))
            out.extend(Static(Text(f"note: {n}", style="dim")) for n in rung.notes)
        return out

    @staticmethod
    def _rung_title(rung: RungDetail) -> Text:
        text = Text(rung.rung, style="bold")
        if not rung.ok:
            return text.append(f"  failed: {rung.reason}")
        text.append(f"  {rung.seconds:.0f} s")
        if rung.tokens:
            text.append(f" · {rung.tokens:,} tokens")
        if rung.params:
            text.append(f" · {rung.params:,} parameters")
        return text

    @staticmethod
    def _scores(rung: RungDetail) -> Vertical:
        table: DataTable[str] = DataTable(cursor_type="none", classes="scores")
        table.add_columns("metric", "value")
        for name, value in sorted(rung.scores.items()):
            table.add_row(name, f"{value:.4f}")
        for name, value in sorted(rung.evals.items()):
            if f"eval/{name}" not in rung.scores:
                table.add_row(f"eval/{name}", f"{value:.4f}")
        return Vertical(table, classes="rung")
