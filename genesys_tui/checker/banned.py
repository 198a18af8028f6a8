"""What unit code may not import, call or touch: the one place these lists live.

The static checker (``static.py``) rejects a unit file that names any of these; the sandbox
(``guard.py``) refuses the matching actions at run time as a second line of defence, because a
list of names can always be dodged by a determined author. Unit code is tensor code: it needs
torch, math and a few pure helpers, nothing that reaches the file system, the network, other
processes or the interpreter's internals.
"""

from __future__ import annotations

#: Modules a unit file may import (a dotted name matches itself and its submodules), unless a
#: more specific entry of BANNED_MODULES matches first.
ALLOWED_MODULES: frozenset[str] = frozenset(
    {
        "__future__",
        "abc",
        "collections",
        "dataclasses",
        "einops",
        "enum",
        "functools",
        "genesys_tui.units",
        "itertools",
        "math",
        "numbers",
        "operator",
        "opt_einsum",
        "torch",
        "typing",
        "typing_extensions",
        "warnings",
    }
)

#: Modules no unit file may import: each reaches the OS, the network, other processes, native
#: code or the import machinery. Checked before ALLOWED_MODULES, so ``torch.hub`` is refused
#: although ``torch`` is allowed.
BANNED_MODULES: frozenset[str] = frozenset(
    {
        "asyncio",
        "builtins",
        "code",
        "codeop",
        "concurrent",
        "ctypes",
        "faulthandler",
        "ftplib",
        "gc",
        "glob",
        "http",
        "importlib",
        "inspect",
        "io",
        "marshal",
        "mmap",
        "multiprocessing",
        "os",
        "pathlib",
        "pickle",
        "pty",
        "requests",
        "resource",
        "runpy",
        "shelve",
        "shutil",
        "signal",
        "smtplib",
        "socket",
        "ssl",
        "subprocess",
        "sys",
        "tempfile",
        "threading",
        "_thread",
        "urllib",
        "webbrowser",
        "zipimport",
        "torch.cuda.nvtx",
        "torch.distributed",
        "torch.hub",
        "torch.multiprocessing",
        "torch.ops",
        "torch.package",
        "torch.utils.cpp_extension",
        "torch.utils.data",
        "torch.utils.tensorboard",
    }
)

#: Built-in names a unit may not call or even mention (passing ``eval`` around is as bad as
#: calling it).
BANNED_NAMES: frozenset[str] = frozenset(
    {
        "__builtins__",
        "__import__",
        "breakpoint",
        "compile",
        "delattr",
        "eval",
        "exec",
        "exit",
        "globals",
        "help",
        "input",
        "locals",
        "memoryview",
        "open",
        "quit",
        "setattr",
        "vars",
    }
)

#: Attribute names that lead out of the sandbox: the introspection chain of the classic escape
#: (``().__class__.__bases__[0].__subclasses__()``), frames and code objects, and modules that
#: torch re-exports as attributes (``torch.os``). Refused as ``x.name`` and as a string given
#: to getattr/hasattr.
BANNED_ATTRIBUTES: frozenset[str] = frozenset(
    {
        "__bases__",
        "__base__",
        "__builtins__",
        "__closure__",
        "__code__",
        "__dict__",
        "__getattribute__",
        "__globals__",
        "__import__",
        "__loader__",
        "__mro__",
        "__reduce__",
        "__reduce_ex__",
        "__self__",
        "__spec__",
        "__subclasses__",
        "co_code",
        "f_back",
        "f_builtins",
        "f_globals",
        "f_locals",
        "gi_frame",
        "tb_frame",
        "builtins",
        "ctypes",
        "importlib",
        "os",
        "shutil",
        "socket",
        "subprocess",
        "sys",
    }
)

#: Dotted calls refused even though their module is allowed: file I/O, unpickling (which runs
#: arbitrary code), native extensions, compilation that writes caches.
BANNED_CALLS: frozenset[str] = frozenset(
    {
        "torch.classes.load_library",
        "torch.compile",
        "torch.from_file",
        "torch.hub.load",
        "torch.jit.load",
        "torch.jit.save",
        "torch.load",
        "torch.ops.load_library",
        "torch.save",
    }
)


def module_verdict(name: str) -> str:
    """``"banned"``, ``"allowed"`` or ``"unknown"`` for the dotted module ``name``.

    The most specific listed prefix wins, so ``torch.hub`` is banned while ``torch.nn`` is
    allowed.
    """
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        prefix = ".".join(parts[:i])
        if prefix in BANNED_MODULES:
            return "banned"
        if prefix in ALLOWED_MODULES:
            return "allowed"
    return "unknown"
