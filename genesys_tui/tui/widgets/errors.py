"""The errors panel: the loop's latest errors, kept on the main screen (a toast fades, this
does not). Hidden while there are none; ``e`` opens them in full (``ErrorsScreen``)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static

from genesys_tui.evolve import events as ev

#: Errors the panel names; the rest are counted (all are in the errors screen).
SHOWN = 2


def error_line(error: ev.LoopError) -> str:
    """``15:06:40 [design] first line of the message``."""
    stamp = time.strftime("%H:%M:%S", time.localtime(error.ts))
    where = f" [{error.design}]" if error.design else ""
    first = error.message.strip().splitlines()[0] if error.message.strip() else "(no message)"
    return f"{stamp}{where} {first}"


class ErrorsPanel(Static):
    DEFAULT_CSS = """
    ErrorsPanel {
        height: auto; max-height: 4; padding: 0 1; display: none;
        background: $error 15%; border-left: thick $error;
    }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.count = 0

    def show(self, errors: Sequence[ev.LoopError]) -> None:
        """Show the count and the latest messages, newest first; hide when there are none."""
        self.count = len(errors)
        self.display = bool(errors)
        if not errors:
            return
        text = Text()
        text.append(f"{len(errors)} error{'s' if len(errors) > 1 else ''}", style="bold")
        text.append("  (e: messages and tracebacks)", style="dim")
        for error in reversed(errors[-SHOWN:]):
            text.append("\n")
            text.append(error_line(error))
        self.update(text)
