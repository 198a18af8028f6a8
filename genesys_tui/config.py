"""Settings: frozen dataclasses with defaults, read from TOML and overridden by flags. No torch.

Every settings class validates its fields in ``__post_init__`` and raises ConfigError naming the
field, so a bad value in a file or on the command line is reported where it was written.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from genesys_tui.errors import ConfigError

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The shape of a language model; the rung of the ladder decides it."""

    d_model: int = 256  # width of the residual stream D
    n_layers: int = 4  # number of blocks N
    vocab_size: int = 4096  # tokenizer vocabulary V, end-of-text included
    context_length: int = 256  # longest sequence T the model is trained on
    dropout: float = 0.0  # dropout on embeddings and inside units that honour it

    def __post_init__(self) -> None:
        for name in ("d_model", "n_layers", "vocab_size", "context_length"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"ModelConfig.{name} must be a positive integer, got {value!r}")
        if not isinstance(self.dropout, (int, float)) or not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"ModelConfig.dropout must be in [0, 1), got {self.dropout!r}")


def from_mapping(cls: type[T], data: Mapping[str, Any], where: str = "") -> T:
    """Build the frozen dataclass ``cls`` from ``data``, rejecting unknown fields.

    Nested dataclass fields are built recursively. ``where`` prefixes field names in errors
    (``ladder.cpu.tokens``).
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    prefix = f"{where}." if where else ""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"unknown setting {prefix}{unknown[0]}; known: {sorted(fields)}")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        ftype = fields[name].type
        target = _resolve(cls, ftype)
        if dataclasses.is_dataclass(target) and isinstance(value, Mapping):
            value = from_mapping(target, value, f"{prefix}{name}")  # type: ignore[arg-type]
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{prefix.rstrip('.')}: {exc}" if prefix else str(exc)) from None
    except TypeError as exc:
        raise ConfigError(f"{prefix}{exc}") from None


def _resolve(cls: type, annotation: Any) -> Any:
    if isinstance(annotation, str):
        module = __import__(cls.__module__, fromlist=["_"])
        return getattr(module, annotation, None)
    return annotation


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file; a syntax error becomes a ConfigError naming the file."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"settings file {p} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: {exc}") from None
