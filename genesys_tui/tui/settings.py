"""Dashboard settings: the ``[dashboard]`` table of the settings TOML, overridden by flags."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genesys_tui.config import from_mapping, load_toml
from genesys_tui.errors import ConfigError
from genesys_tui.evolve.settings import EvolveConfig

#: The settings file read when ``--config`` is not given and it exists.
DEFAULT_SETTINGS = Path("genesys.toml")


@dataclass(frozen=True)
class DashboardConfig:
    theme: str = "dark"  # a themes/ file's stem or name, or a Textual theme ("nord")
    sample_seconds: float = 1.0  # how often CPU, memory and GPU are sampled (0: never)
    refresh_seconds: float = 0.5  # designs are re-read at most this often after loop events
    history: int = 60  # samples each resource sparkline shows
    expand_limit: int = 300  # up to this many designs, the whole family tree starts expanded
    paused: bool = False  # open with the evolution loop paused (resume with p)

    def __post_init__(self) -> None:
        if not isinstance(self.theme, str) or not self.theme:
            raise ConfigError(f"dashboard.theme must be a theme name, got {self.theme!r}")
        for name in ("sample_seconds", "refresh_seconds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(f"dashboard.{name} must be a number >= 0, got {value!r}")
        for name in ("history", "expand_limit"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"dashboard.{name} must be an integer >= 1, got {value!r}")
        if not isinstance(self.paused, bool):
            raise ConfigError(f"dashboard.paused must be true or false, got {self.paused!r}")


def load_settings(path: Path | None) -> tuple[DashboardConfig, EvolveConfig]:
    """The ``[dashboard]`` and ``[evolve]`` tables of ``path`` (defaults where absent).

    ``None`` reads ``./genesys.toml`` when it exists, else gives the defaults.
    """
    if path is None:
        if not DEFAULT_SETTINGS.is_file():
            return DashboardConfig(), EvolveConfig()
        path = DEFAULT_SETTINGS
    data = load_toml(path)
    tables: list[Any] = []
    for name in ("dashboard", "evolve"):
        table = data.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [{name}] must be a table")
        tables.append(table)
    return (
        from_mapping(DashboardConfig, tables[0], "dashboard"),
        from_mapping(EvolveConfig, tables[1], "evolve"),
    )
