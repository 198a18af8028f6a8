"""Dashboard themes as files: ``themes/*.toml`` read into Textual themes and registered.

Textual has no theme loader of its own. A theme file names the theme, says whether it is dark,
and gives Textual's base colours and optional CSS variables (see ``themes/README.md``). Bad
files raise ConfigError naming the file and the field, so a typo is found where it was made.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from textual.app import App
from textual.color import Color, ColorParseError
from textual.theme import BUILTIN_THEMES, Theme

from genesys_tui.config import load_toml
from genesys_tui.errors import ConfigError
from genesys_tui.resources import themes_dir

COLOR_FIELDS = (
    "primary",
    "secondary",
    "accent",
    "warning",
    "error",
    "success",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)
DEFAULT_THEME = "genesys-dark"


def _color(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be a colour string such as '#2EA3A3', got {value!r}")
    try:
        Color.parse(value)
    except ColorParseError:
        raise ConfigError(f"{where}: {value!r} is not a colour Textual can parse") from None
    return value


def theme_from_mapping(data: dict[str, Any], where: str) -> Theme:
    """A Textual theme from a parsed theme file; ``where`` names the file in errors."""
    unknown = sorted(set(data) - {"name", "dark", "colors", "variables"})
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; known: colors, dark, name, ...")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}: name must be a non-empty string")
    dark = data.get("dark", True)
    if not isinstance(dark, bool):
        raise ConfigError(f"{where}: dark must be true or false, got {dark!r}")
    colors = data.get("colors", {})
    if not isinstance(colors, dict):
        raise ConfigError(f"{where}: [colors] must be a table")
    bad = sorted(set(colors) - set(COLOR_FIELDS))
    if bad:
        raise ConfigError(f"{where}: colors.{bad[0]} is not a theme colour; use {COLOR_FIELDS}")
    if "primary" not in colors:
        raise ConfigError(f"{where}: colors.primary is required")
    variables = data.get("variables", {})
    if not isinstance(variables, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in variables.items()
    ):
        raise ConfigError(f"{where}: [variables] must map CSS variable names to strings")
    kwargs = {k: _color(v, f"{where}: colors.{k}") for k, v in colors.items()}
    extra: dict[str, Any] = kwargs  # colour fields only; Theme's signature mixes types
    return Theme(name=name.strip(), dark=dark, variables=dict(variables), **extra)


def load_theme(path: Path) -> Theme:
    """Read one theme file (ConfigError names the file and field of any mistake)."""
    return theme_from_mapping(load_toml(path), str(path))


def load_themes(directory: Path | None = None) -> dict[str, Theme]:
    """Every ``*.toml`` theme in ``directory`` (default: the shipped ``themes/``), keyed by the
    file's stem (``dark``), in file-name order."""
    folder = directory or themes_dir()
    return {p.stem: load_theme(p) for p in sorted(folder.glob("*.toml"))}


def register_themes(app: App[Any], themes: Iterable[Theme]) -> None:
    for theme in themes:
        app.register_theme(theme)


def resolve_theme(name: str, themes: dict[str, Theme]) -> str:
    """The registered name for ``name``: a theme file's stem (``light``), a theme's own name
    (``genesys-light``) or one of Textual's built-in themes (``nord``)."""
    if name in themes:
        return themes[name].name
    if name in {t.name for t in themes.values()} or name in BUILTIN_THEMES:
        return name
    known = sorted([*themes, *(t.name for t in themes.values())])
    raise ConfigError(
        f"dashboard.theme: no theme {name!r}; theme files give {known}, and Textual's own "
        f"themes ({', '.join(sorted(BUILTIN_THEMES)[:4])}, ...) work too"
    )
