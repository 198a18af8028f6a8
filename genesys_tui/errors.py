"""One error hierarchy for Genesys.

Every error says what happened and what to do next. Errors raised while handling untrusted
design code are turned into checker findings, never into a crash of the loop.
"""

from __future__ import annotations

from pathlib import Path


class GenesysError(Exception):
    """Base class of every error Genesys raises on purpose."""


class DesignError(GenesysError):
    """A design directory or its ``design.json`` is invalid.

    ``path`` is the file at fault and ``field`` a dotted path to the offending field
    (``units.attn.args.n_heads``), so the message points straight at what to fix.
    """

    def __init__(self, message: str, path: str | Path | None = None, field: str | None = None):
        self.path = str(path) if path is not None else None
        self.field = field
        where = ""
        if self.path:
            where += self.path
        if field:
            where += f" [{field}]" if where else f"[{field}]"
        super().__init__(f"{where}: {message}" if where else message)
        self.reason = message


class UnitError(GenesysError):
    """A unit misbehaved while being built or run (wrong return type, missing child, ...)."""


class ConfigError(GenesysError):
    """A settings file or flag holds a bad value; the message names the field."""


class StoreError(GenesysError):
    """The designs repository or its index cannot be read or written."""


class IndexCorruptError(StoreError):
    """The TinyDB index is unreadable; it is rebuilt from the designs repository."""


class VerifyError(GenesysError):
    """Training or evaluation could not run (bad rung, missing data, diverged run)."""


class LoopFailed(GenesysError):
    """The evolution loop stopped on an error of its own (not a design's); the error and its
    traceback are in the namespace's events.jsonl, and ``--resume`` continues the run."""


class CheckError(GenesysError):
    """The checker itself could not run (not: the design failed; that is a report)."""
