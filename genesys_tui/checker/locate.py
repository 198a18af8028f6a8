"""Where in the design something happened: unit files and lines from tracebacks and stacks,
unit ids from modules and parameter names.

The loader compiles each unit file with its real path (``<design dir>/units/x.py``, or
``<design NAME>/units/x.py`` for a design that lives only in memory) as the code's filename, so
frames of unit code name their file, and the ``self`` of a frame names the unit instance.
"""

from __future__ import annotations

import linecache
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

from genesys_tui.design import Design

if TYPE_CHECKING:  # torch stays out of the caller's process: only the child builds models
    from torch import nn


@dataclass(frozen=True)
class UnitRef:
    """A unit instance in a built model: its id in design.json, module path, file and class."""

    uid: str
    path: str
    file: str
    cls: str
    layer: int


@dataclass(frozen=True)
class Place:
    """A point in a unit file: relative file, 1-based line, the line's text, the unit id."""

    file: str
    line: int
    code: str | None = None
    unit: str | None = None


def unit_filenames(design: Design) -> dict[str, str]:
    """The filename each unit file's code objects carry -> its relative path in the design."""
    base = design.path if design.path is not None else f"<design {design.name}>"
    return {f"{base}/{rel}": rel for rel in design.sources}


def index_units(model: nn.Module, design: Design) -> dict[int, UnitRef]:
    """``id(module)`` -> UnitRef for every unit instance of a model built by ``build_lm``."""
    index: dict[int, UnitRef] = {}

    def walk(module: nn.Module, uid: str, path: str, layer: int) -> None:
        node = design.units[uid]
        index[id(module)] = UnitRef(uid, path, node.file, node.cls, layer)
        for slot, child_uid in node.children.items():
            child: Any = getattr(module, slot, None)
            if callable(getattr(child, "named_parameters", None)):
                walk(child, child_uid, f"{path}.{slot}", layer)

    blocks: Iterable[nn.Module] = getattr(model, "blocks", None) or []
    for i, block in enumerate(blocks):
        walk(block, design.roots[i % len(design.roots)], f"blocks.{i}", i)
    return index


def unit_of_parameter(name: str, index: Mapping[int, UnitRef]) -> UnitRef | None:
    """The innermost unit whose module path prefixes the parameter ``name``."""
    best: UnitRef | None = None
    for ref in index.values():
        if name.startswith(ref.path + ".") and (best is None or len(ref.path) > len(best.path)):
            best = ref
    return best


def _place(filename: str, line: int, files: Mapping[str, str], self_obj: Any,
           index: Mapping[int, UnitRef]) -> Place:  # fmt: skip
    ref = index.get(id(self_obj)) if self_obj is not None else None
    code = linecache.getline(filename, line).rstrip() or None
    return Place(files[filename], line, code, ref.uid if ref else None)


def place_of_traceback(tb: TracebackType | None, files: Mapping[str, str],
                       index: Mapping[int, UnitRef]) -> Place | None:  # fmt: skip
    """The innermost frame of ``tb`` that runs unit code, or None."""
    found: Place | None = None
    for frame, line in traceback.walk_tb(tb):
        if frame.f_code.co_filename in files:
            found = _place(frame.f_code.co_filename, line, files, frame.f_locals.get("self"), index)
    return found


def place_of_stack(frames: Iterable[tuple[str, int]], files: Mapping[str, str]) -> Place | None:
    """The innermost ``(filename, line)`` of a stack (innermost first) in unit code, or None."""
    for filename, line in frames:
        if filename in files:
            return _place(filename, line, files, None, {})
    return None


def place_of_text(text: str, files: Mapping[str, str],
                  sources: Mapping[str, str] | None = None) -> Place | None:  # fmt: skip
    """The first unit-file frame in a faulthandler dump (``File "...", line N``), or None.

    faulthandler prints the innermost frame first. ``sources`` (relative file -> text) supplies
    the line's text where linecache has none.
    """
    for raw in text.splitlines():
        raw = raw.strip()
        if not raw.startswith('File "'):
            continue
        name, _, rest = raw[6:].partition('", line ')
        digits = "".join(ch for ch in rest.split()[0] if ch.isdigit()) if rest else ""
        if name in files and digits:
            place = _place(name, int(digits), files, None, {})
            lines = (sources or {}).get(place.file, "").splitlines()
            if place.code is None and 0 < place.line <= len(lines):
                place = Place(place.file, place.line, lines[place.line - 1].rstrip(), None)
            return place
    return None
