"""Status and score colours taken from the current theme, for labels built as Rich text."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.color import Color

from genesys_tui.scores import format_fitness
from genesys_tui.tui.board import GLYPHS

_STATUS_VAR = {
    "seed": "secondary",
    "proposed": "foreground-muted",
    "checked": "primary",
    "verified": "success",
    "rejected": "error",
    "failed": "warning",
}


def theme_colour(app: Any, name: str) -> str:
    """A theme variable as a solid ``#rrggbb`` Rich can parse (translucent ones, such as
    ``foreground-muted``, are blended over the background)."""
    variables = app.theme_variables
    value = Color.parse(variables.get(name, variables["foreground"]))
    if value.a < 1:
        value = Color.parse(variables["background"]) + value
    return value.hex6


def colours(app: Any) -> dict[str, str]:
    """Theme colour by status, plus "good", "bad", "muted" and "accent" (``#rrggbb``)."""
    out = {k: theme_colour(app, v) for k, v in _STATUS_VAR.items()}
    out["good"], out["bad"] = theme_colour(app, "success"), theme_colour(app, "error")
    out["muted"] = theme_colour(app, "foreground-muted")
    out["accent"] = theme_colour(app, "accent")
    return out


def glyph(status: str, palette: dict[str, str]) -> Text:
    return Text(GLYPHS.get(status, "?"), style=palette.get(status, ""))


def signed(value: float | None, palette: dict[str, str]) -> Text:
    """A fitness (``format_fitness``): green above the seeds' mean, red below, muted when
    there is none."""
    text = format_fitness(value)
    if text == "-":
        return Text(text, style=palette["muted"])
    return Text(text, style=palette["bad"] if text.startswith("-") else palette["good"])
