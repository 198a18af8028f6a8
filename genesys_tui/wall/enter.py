"""The first code a walled process runs: ``python -m genesys_tui.wall.enter MODULE...``.

It imports the named modules (torch, the checker, the verifier: the seconds a cold start costs),
says it is ready, and waits. The job arrives as one JSON line on stdin, ``{"func":
"module:function", "kwargs": {...}}``; the function runs with a ``channel`` keyword and its
JSON return value goes back. Messages to the parent are JSON lines on a private duplicate of
the original stdout; file descriptor 1 itself is pointed at stderr (which the parent sends to a
file), so whatever design code prints cannot pass for a message. One job per process: it ends
with ``os._exit`` after the job, skipping teardown the design could have tampered with.

Messages: ``ready``; any ``event`` the job sends; ``ask`` (the job waits for the parent's
answer, one JSON line on stdin); then ``return`` with the value, or ``raise`` with the error.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import traceback
from typing import Any, BinaryIO

#: Largest line the parent sends (a job request or an answer).
MAX_LINE = 64 << 20


class Channel:
    """The job's line to the parent: ``emit`` an event, ``ask`` a question and wait."""

    def __init__(self, out: BinaryIO, inp: BinaryIO) -> None:
        self._out, self._in = out, inp

    def send(self, message: dict[str, Any]) -> None:
        self._out.write(json.dumps(message, default=str).encode() + b"\n")
        self._out.flush()

    def emit(self, event: dict[str, Any]) -> None:
        self.send({"type": "event", "event": event})

    def ask(self, question: dict[str, Any]) -> Any:
        self.send({"type": "ask", "question": question})
        line = self._in.readline(MAX_LINE)
        if not line:
            raise EOFError("the parent closed the channel before answering")
        return json.loads(line)


def main(argv: list[str]) -> None:
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # prints of libraries and designs go to the stderr file
    channel = Channel(out, sys.stdin.buffer)
    status = 0
    try:
        for name in argv:
            importlib.import_module(name)
        channel.send({"type": "ready", "pid": os.getpid()})
        line = sys.stdin.buffer.readline(MAX_LINE)
        if not line:
            os._exit(0)  # a spare that was never used
        request = json.loads(line)
        module, _, name = str(request["func"]).partition(":")
        func = getattr(importlib.import_module(module), name)
        value = func(channel=channel, **request.get("kwargs", {}))
        channel.send({"type": "return", "value": value})
    except BaseException as exc:  # the job's failure, reported; the parent decides what it means
        status = 1
        with contextlib.suppress(BaseException):  # the parent may be gone
            channel.send({"type": "raise", "error": f"{type(exc).__name__}: {exc}",
                          "traceback": traceback.format_exc(limit=12)[-6000:]})  # fmt: skip
    finally:
        sys.stderr.flush()
        os._exit(status)


if __name__ == "__main__":
    main(sys.argv[1:])
