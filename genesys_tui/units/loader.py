"""Turn unit source text into classes, each file in a namespace of its own.

Two designs may both define ``class Attention`` without clashing: every file is compiled with
its real path (so tracebacks point into it) and executed into a fresh dict. Nothing is written
into ``sys.modules``. The same source text yields the same class object (cached by content).
"""

from __future__ import annotations

import builtins
import hashlib
import linecache
from typing import Any

from genesys_tui.errors import UnitError
from genesys_tui.units.base import Unit

_CACHE: dict[tuple[str, str], dict[str, Any]] = {}
_CACHE_LIMIT = 512


def load_namespace(source: str, filename: str) -> dict[str, Any]:
    """Execute ``source`` in a fresh namespace and return it (cached by text and filename)."""
    key = (hashlib.sha256(source.encode()).hexdigest(), filename)
    ns = _CACHE.get(key)
    if ns is not None:
        return ns
    if len(_CACHE) >= _CACHE_LIMIT:
        _CACHE.pop(next(iter(_CACHE)))
    # Register the text so tracebacks show the lines even when the file is not on disk.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    ns = {"__name__": f"genesys_unit_{key[0][:12]}", "__file__": filename, "__builtins__": builtins}
    exec(compile(source, filename, "exec"), ns)
    _CACHE[key] = ns
    return ns


def load_unit_class(source: str, filename: str, class_name: str) -> type[Unit]:
    """Return the Unit subclass ``class_name`` defined by ``source``."""
    ns = load_namespace(source, filename)
    cls = ns.get(class_name)
    if not isinstance(cls, type) or not issubclass(cls, Unit):
        raise UnitError(f"{filename}: {class_name!r} is not a Unit subclass defined in this file")
    return cls
