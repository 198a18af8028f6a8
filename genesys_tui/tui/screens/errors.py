"""The errors screen (``e``): each of the loop's latest errors with its full message and the
traceback it carried, newest first."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from genesys_tui.evolve import events as ev


class ErrorsScreen(Screen[None]):
    DEFAULT_CSS = """
    ErrorsScreen .error-title { margin: 1 0 0 0; color: $error; text-style: bold; }
    ErrorsScreen .traceback { color: $foreground-muted; padding: 0 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,e", "app.pop_screen", "back")]

    def __init__(self, errors: Sequence[ev.LoopError]) -> None:
        super().__init__()
        self.errors = list(errors)

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with VerticalScroll(id="errors"):
            if not self.errors:
                yield Static("no errors", classes="empty")
            for error in reversed(self.errors):
                stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(error.ts))
                title = stamp + (f"  {error.design}" if error.design else "")
                yield Static(Text(title), classes="error-title")
                yield Static(Text(error.message or "(no message)"), classes="message")
                yield Static(
                    Text(error.traceback.rstrip() or "(no traceback: not an exception)"),
                    classes="traceback",
                )
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"{len(self.errors)} error{'s' if len(self.errors) != 1 else ''}"
