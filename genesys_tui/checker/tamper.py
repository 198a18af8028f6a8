"""The tamper check: did code that ran in this process patch torch, math, builtins or Genesys?

Design code runs in the same interpreter as the code that judges it (the checker's stages, the
verifier's training loop). A design that assigns ``F.cross_entropy = fake``, ``torch.Tensor.
softmax = ...`` or ``genesys_tui.checker.causality._leak = ...`` would have the loss or the
verdict computed by itself. ``snapshot()``, taken before any design code runs, records the
identity of every attribute of the modules that matter (torch, torch.nn, torch.nn.functional,
torch.autograd, torch.optim, torch._C, math, builtins and every imported ``genesys_tui``
module), of every method of the classes defined there (``torch.Tensor``, ``nn.Module``, ...,
resolved through the MRO, so a method shadowed in a subclass shows), the code, defaults and
closure of every Python function among them, which module each ``sys.modules`` name holds, and
process-wide switches a design could leave on (torch function and dispatch modes, global module
hooks, operator registrations, trace functions, import hooks, threads). ``changed(snapshot)``
names whatever differs now.

This is a net for code that patches what it can reach, not a boundary: code that can reach the
interpreter's internals can also defeat a check that runs inside the same interpreter. The
operating-system wall (``genesys_tui.wall``) and verdicts computed outside the design's process
are the boundary.
"""

from __future__ import annotations

import builtins
import gc
import sys
import threading
import types
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

#: Modules whose every attribute is recorded (those not imported yet are skipped).
MODULES = (
    "builtins", "math", "torch", "torch.nn", "torch.nn.functional", "torch.nn.init",
    "torch.nn.modules.module", "torch.nn.parameter", "torch.autograd", "torch.autograd.function",
    "torch.optim", "torch.optim.optimizer", "torch.optim.lr_scheduler", "torch._C",
    "torch._C._nn", "torch.amp", "torch.random", "torch.library",
)  # fmt: skip
#: Top-level packages whose classes are recorded method by method, and whose entries in
#: ``sys.modules`` must stay the module they were.
ROOTS = ("torch", "genesys_tui")
_HOOKS = (
    "_global_forward_hooks", "_global_forward_pre_hooks", "_global_backward_hooks",
    "_global_backward_pre_hooks", "_global_forward_hooks_with_kwargs",
    "_global_forward_hooks_always_called", "_global_module_registration_hooks",
    "_global_parameter_registration_hooks", "_global_buffer_registration_hooks",
)  # fmt: skip

#: Class attributes torch itself changes as it runs (a counter of hook handles).
VOLATILE = frozenset({"RemovableHandle.next_id"})

Identity = tuple[Any, ...]
#: A recorded class: the class, and each name it resolves -> (owner in the MRO, identities).
Members = tuple[type, dict[str, Identity]]


@dataclass(frozen=True)
class Snapshot:
    """What ``snapshot()`` recorded; compare with ``changed(snapshot)``. Holds references to
    the recorded objects, so no id is reused while it lives."""

    walked: dict[str, Any]  # module name -> the module whose attributes were recorded
    entries: dict[str, Identity]  # "torch.nn.functional.cross_entropy" -> identities
    classes: dict[str, Members]  # "torch.Tensor" -> its members
    modules: dict[str, Any]  # sys.modules name -> module object
    state: dict[str, Identity]  # process-wide switch -> its value(s)
    toolkit: Identity  # the functions and built-ins the comparison itself relies on


def _identity(value: Any) -> Identity:
    """The objects whose replacement changes what ``value`` does when called."""
    if isinstance(value, types.FunctionType):
        cells = tuple(_cell(c) for c in value.__closure__ or ())
        return (value, value.__code__, value.__defaults__, value.__kwdefaults__, *cells)
    if isinstance(value, classmethod | staticmethod):
        return (value, *_identity(value.__func__))
    if isinstance(value, property):
        return (value, *_identity(value.fget), *_identity(value.fset), *_identity(value.fdel))
    return (value,)


def _cell(cell: types.CellType) -> Any:
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell
        return None


def _same(a: Identity, b: Identity) -> bool:
    """Element by element the same object (ints, which ``len`` and thread ids give, by value)."""
    if len(a) != len(b):
        return False
    return all(x is y or (type(x) is int and type(y) is int and x == y)
               for x, y in zip(a, b, strict=True))  # fmt: skip


def _class_members(cls: type) -> Iterable[tuple[str, type, Any]]:
    """(name, owner, raw attribute) for every name ``cls`` resolves, through its MRO."""
    seen: set[str] = set()
    for owner in cls.__mro__:
        if owner is object:
            continue
        for name, raw in list(vars(owner).items()):
            if name not in seen:
                seen.add(name)
                yield name, owner, raw


def _is_ours(value: Any) -> bool:
    module = getattr(value, "__module__", None) if isinstance(value, type) else None
    return isinstance(module, str) and module.split(".")[0] in ROOTS


def _record_class(cls: type) -> Members:
    return cls, {name: (owner, *_identity(raw)) for name, owner, raw in _class_members(cls)}


def _module_names() -> list[str]:
    ours = [n for n in sys.modules if n == "genesys_tui" or n.startswith("genesys_tui.")]
    return [name for name in MODULES if name in sys.modules] + sorted(ours)


def _record(modules: dict[str, Any]) -> tuple[dict[str, Identity], dict[str, Members]]:
    """Every attribute of ``modules``, and every class of ours among them by the first name
    it is found under (``torch.Tensor``)."""
    entries: dict[str, Identity] = {}
    classes: dict[str, Members] = {}
    seen: set[int] = set()
    for name, module in modules.items():
        for attr, value in list(vars(module).items()):
            entries[f"{name}.{attr}"] = _identity(value)
            if _is_ours(value) and id(value) not in seen:
                seen.add(id(value))
                classes[f"{name}.{attr}"] = _record_class(value)
    return entries, classes


def _state() -> dict[str, Identity]:
    """Process-wide switches, each as a tuple of objects or small ints."""
    torch = sys.modules.get("torch")
    state: dict[str, Identity] = {
        "sys.settrace": (sys.gettrace(),),
        "sys.setprofile": (sys.getprofile(),),
        "threading.settrace": (threading.gettrace(),),
        "threading.setprofile": (threading.getprofile(),),
        "sys.meta_path": tuple(sys.meta_path),
        "sys.path_hooks": tuple(sys.path_hooks),
        "gc.callbacks": tuple(gc.callbacks),
        "python threads": tuple(sorted(t.ident or 0 for t in threading.enumerate())),
    }
    if torch is None:
        return state
    state["torch function modes"] = (torch._C._len_torch_function_stack(),)
    state["torch dispatch modes"] = (torch._C._len_torch_dispatch_stack(),)
    state["torch grad mode"] = (torch.is_grad_enabled(),)
    state["torch default dtype"] = (torch.get_default_dtype(),)
    module = sys.modules.get("torch.nn.modules.module")
    for name in _HOOKS:
        hooks = getattr(module, name, None)
        if isinstance(hooks, dict):
            state[f"torch.nn.modules.module.{name}"] = tuple(hooks.values())
    library = sys.modules.get("torch.library")
    for name in ("_impls", "_defs", "_keep_alive"):
        registered = getattr(library, name, None)
        if isinstance(registered, set | list):
            state[f"torch.library.{name}"] = (len(registered),)
    return state


def _toolkit() -> Identity:
    """What ``changed`` calls: replacing any of it could blind the comparison."""
    own = sys.modules[__name__]
    used = (_identity, _cell, _same, _class_members, _is_ours, _record_class, _module_names,
            _record, _state, _toolkit, changed, _compare, _class_changes)  # fmt: skip
    return (
        vars(own).get("__builtins__"),
        *(vars(builtins)[n] for n in _BUILTINS),
        *(x for f in used for x in _identity(f)),
    )


_BUILTINS = ("len", "list", "tuple", "sorted", "vars", "getattr", "isinstance", "zip", "all",
             "set", "frozenset", "type", "dict", "str", "sum", "any")  # fmt: skip


def snapshot() -> Snapshot:
    """Record the state ``changed`` compares against. Call it before any design code runs."""
    walked = {name: sys.modules[name] for name in _module_names()}
    entries, classes = _record(walked)
    tracked = {n: m for n, m in list(sys.modules.items()) if n.split(".")[0] in ROOTS}
    return Snapshot(walked, entries, classes, tracked, _state(), _toolkit())


def changed(before: Snapshot) -> list[str]:
    """What differs from ``before``: a sorted list of dotted names (``torch.nn.functional.
    cross_entropy``, ``torch.Tensor.softmax``, ``torch.Tensor.foo (added)``, ``torch function
    modes``), empty when nothing does. Attributes added to modules are not changes (torch
    imports submodules lazily); names added to a recorded class are. A method changed on a
    class is named there only, not again on each subclass that inherits it."""
    if not _same(before.toolkit, _toolkit()):
        return ["genesys_tui.checker.tamper (the tamper check itself)"]
    return _compare(before)


def _compare(before: Snapshot) -> list[str]:
    out = [f"sys.modules[{n!r}]" for n, m in before.modules.items() if sys.modules.get(n) is not m]
    entries, classes = _record(before.walked)
    for key, identity in before.entries.items():
        now = entries.get(key)
        if now is None:
            out.append(f"{key} (removed)")
        elif not _same(identity, now):
            out.append(key)
    for key, (cls, members) in before.classes.items():
        out += _class_changes(key, cls, members, classes.get(key, (cls, {}))[1])
    state = _state()
    out += [key for key, value in before.state.items() if not _same(value, state.get(key, ()))]
    return sorted(set(out))


def _class_changes(key: str, cls: type, before: dict[str, Identity], now: dict[str, Identity]
                   ) -> list[str]:  # fmt: skip
    """Changed, removed and added members of ``cls``, each only where ``cls`` owns it."""
    out = []
    for name, was in before.items():
        if f"{cls.__name__}.{name}" in VOLATILE:
            continue
        is_ = now.get(name)
        if is_ is None:
            out += [f"{key}.{name} (removed)"] if was[0] is cls else []
        elif not _same(was, is_) and (was[0] is cls or is_[0] is cls):
            out.append(f"{key}.{name}")
    out += [f"{key}.{name} (added)" for name in now.keys() - before.keys() if now[name][0] is cls]
    return out
