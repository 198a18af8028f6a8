"""The help screen (``?`` or F1): every key of the dashboard, by where it works.

The keys are read from the bindings themselves (the app's, the screen's beneath, and those of
its widgets), so the list cannot drift from what the keys do.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

#: What each part of the dashboard is called in the help; others go by their class name.
TITLES = {
    "GenesysApp": "everywhere",
    "MainScreen": "main screen",
    "InspectorScreen": "design inspector",
    "Leaderboard": "leaderboard",
    "EvolutionTree": "evolution tree",
    "DialogueLog": "agent dialogue",
}


def key_sections(app: Any, screen: Screen[Any]) -> list[tuple[str, list[tuple[str, str]]]]:
    """(where, [(keys, what they do)]) for the app, ``screen`` and each of its widgets that
    has bindings of its own (Genesys's widgets, and whichever widget has the focus)."""
    nodes: list[DOMNode] = [app, screen]
    for widget in screen.query("*"):
        own = type(widget).__module__.startswith("genesys_tui")
        has_keys = bool(widget._bindings.key_to_bindings)
        new = not any(type(n) is type(widget) for n in nodes)
        if (own or widget is screen.focused) and has_keys and new:
            nodes.append(widget)
    sections = []
    for node in nodes:
        keys: dict[tuple[str, str], list[str]] = {}
        for key, bindings in node._bindings.key_to_bindings.items():
            for binding in bindings:
                if binding.description:
                    what = (binding.action, binding.description)
                    shown = app.get_key_display(Binding(key, binding.action))
                    keys.setdefault(what, [])
                    if shown not in keys[what]:
                        keys[what].append(shown)
        if keys:
            name = type(node).__name__
            rows = [("/".join(k), what) for (_action, what), k in keys.items()]
            sections.append((TITLES.get(name, name), rows))
    return sections


def help_table(sections: list[tuple[str, list[tuple[str, str]]]]) -> Table:
    table = Table(box=None, show_header=False, padding=(0, 2, 0, 0), expand=False)
    table.add_column("keys", style="bold", no_wrap=True)
    table.add_column("what", overflow="fold")
    for i, (where, rows) in enumerate(sections):
        if i:
            table.add_row("", "")
        table.add_row(Text(where, style="bold underline"), "")
        for keys, what in rows:
            table.add_row(keys, what)
    return table


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 72; max-width: 95%; height: 90%;
        border: round $primary; background: $surface; padding: 0 1;
        border-subtitle-color: $foreground-muted;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark,f1", "dismiss", "close"),
    ]

    def __init__(self, sections: list[tuple[str, list[tuple[str, str]]]]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        box = VerticalScroll()
        box.border_title = "keys"
        box.border_subtitle = "Escape, q or ? closes"
        with box:
            yield Static(help_table(self.sections), id="keys")
