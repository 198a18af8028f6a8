"""The audit hook's rules, without installing it (it cannot be removed from a process)."""

from __future__ import annotations

import os

import pytest

from genesys_tui.checker.guard import refusal

CASES = {
    "read-file": ("open", ("/etc/hostname", "r", os.O_RDONLY), False),
    "read-binary": ("open", ("/x.so", "rb", os.O_RDONLY | os.O_CLOEXEC), False),
    "write-file": ("open", ("/tmp/x", "w", os.O_WRONLY | os.O_CREAT | os.O_TRUNC), True),
    "append-file": ("open", ("/tmp/x", "a", os.O_WRONLY | os.O_APPEND), True),
    "update-file": ("open", ("/tmp/x", "r+", os.O_RDWR), True),
    "os-open-write": ("open", ("/tmp/x", None, os.O_WRONLY), True),
    "write-to-fd": ("open", (3, "w", os.O_WRONLY), True),
    "socket": ("socket.__new__", (None, 2, 1, 0), True),
    "connect": ("socket.connect", (None, ("127.0.0.1", 9)), True),
    "fork": ("os.fork", (), True),
    "popen": ("subprocess.Popen", ("true", ["true"], None, None), True),
    "kill": ("os.kill", (1, 9), True),
    "remove": ("os.remove", ("/tmp/x", -1), True),
    "ctypes": ("ctypes.dlopen", ("libc.so.6",), True),
    "rlimit": ("resource.setrlimit", (9, (1, 1)), True),
    "import": ("import", ("math", None, [], [], []), False),
    "getframe": ("sys._getframe", (None,), False),
}


@pytest.mark.parametrize("case", sorted(CASES), ids=sorted(CASES))
def test_refusal_rules(case: str) -> None:
    event, args, refused = CASES[case]
    assert (refusal(event, args) is not None) is refused
