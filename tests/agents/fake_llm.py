"""A scripted model server on 127.0.0.1 that speaks both APIs the designer uses.

``POST /v1/messages`` answers like Anthropic's Messages API and ``POST /v1/chat/completions``
like OpenAI's Chat Completions API, both streaming server-sent events when asked. Replies come
from a script keyed by the agent role, read from the ``Genesys agent role: <role>`` line that
starts every system prompt; a step is the reply text, a ``Fail`` (an HTTP error) or a
``Stall`` (no answer).
Every request is recorded (path, headers, JSON body) so tests can look at what was sent.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ROLE_LINE = re.compile(r"Genesys agent role: (\w+)")


@dataclass(frozen=True)
class Fail:
    status: int
    message: str = "scripted failure"
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Stall:
    """Answer nothing for ``seconds`` (the client times out), then close the connection."""

    seconds: float


Step = str | Fail | Stall


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    role: str


class FakeLLM:
    """Start with ``with FakeLLM(script) as fake:``; ``fake.url`` is the server's base URL."""

    def __init__(
        self, script: Mapping[str, Iterable[Step]], usage: bool = True, chunk: int = 24
    ) -> None:
        self.script: dict[str, deque[Step]] = defaultdict(deque)
        for role, steps in script.items():
            self.script[role].extend(steps)
        self.usage = usage
        self.chunk = chunk
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeLLM:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add(self, role: str, *steps: Step) -> None:
        with self._lock:
            self.script[role].extend(steps)

    def remaining(self) -> dict[str, int]:
        return {role: len(q) for role, q in self.script.items() if q}

    def roles_called(self) -> list[str]:
        return [r.role for r in self.requests]

    def _next(self, role: str) -> Step:
        with self._lock:
            queue = self.script.get(role) or self.script.get("*")
            if not queue:
                return Fail(400, f"the script has no reply left for role {role!r}")
            return queue.popleft()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                anthropic = self.path.endswith("/messages")
                system = body.get("system", "") if anthropic else body["messages"][0]["content"]
                if isinstance(system, list):
                    system = " ".join(b.get("text", "") for b in system)
                match = ROLE_LINE.search(system)
                role = match.group(1) if match else "?"
                with fake._lock:
                    fake.requests.append(
                        Request(
                            self.path, {k.lower(): v for k, v in self.headers.items()}, body, role
                        )
                    )
                step = fake._next(role)
                if isinstance(step, Fail):
                    self._fail(step, anthropic)
                    return
                if isinstance(step, Stall):
                    time.sleep(step.seconds)
                    return
                prompt = json.dumps(body.get("messages", [])) + str(system)
                usage = (max(1, len(prompt) // 4), max(1, len(step) // 4))
                pieces = [step[i : i + fake.chunk] for i in range(0, len(step), fake.chunk)]
                if anthropic:
                    self._anthropic(body, pieces, usage)
                else:
                    self._openai(body, pieces, usage)

            def _fail(self, step: Fail, anthropic: bool) -> None:
                if anthropic:
                    kind = "rate_limit_error" if step.status == 429 else "api_error"
                    payload = {"type": "error", "error": {"type": kind, "message": step.message}}
                else:
                    payload = {"error": {"message": step.message, "type": "error", "code": None}}
                data = json.dumps(payload).encode()
                self.send_response(step.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for k, v in step.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _sse(self, events: list[tuple[str | None, Any]]) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("cache-control", "no-cache")
                self.end_headers()
                for name, data in events:
                    text = data if isinstance(data, str) else json.dumps(data)
                    head = f"event: {name}\n" if name else ""
                    self.wfile.write(f"{head}data: {text}\n\n".encode())
                    self.wfile.flush()

            def _anthropic(self, body: dict, pieces: list[str], usage: tuple[int, int]) -> None:
                model = body.get("model", "fake")
                message = {
                    "id": "msg_fake",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": usage[0], "output_tokens": 1},
                }
                events: list[tuple[str | None, Any]] = [
                    ("message_start", {"type": "message_start", "message": message}),
                    (
                        "content_block_start",
                        {
                            "type": "content_block_start",
                            "index": 0,
                            "content_block": {"type": "text", "text": ""},
                        },
                    ),
                ]
                for piece in pieces:
                    events.append(
                        (
                            "content_block_delta",
                            {
                                "type": "content_block_delta",
                                "index": 0,
                                "delta": {"type": "text_delta", "text": piece},
                            },
                        )
                    )
                events += [
                    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
                    (
                        "message_delta",
                        {
                            "type": "message_delta",
                            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                            "usage": {"output_tokens": usage[1]},
                        },
                    ),
                    ("message_stop", {"type": "message_stop"}),
                ]
                self._sse(events)

            def _openai(self, body: dict, pieces: list[str], usage: tuple[int, int]) -> None:
                model = body.get("model", "fake")

                def chunk(delta: dict, finish: str | None = None) -> dict:
                    return {
                        "id": "chatcmpl-fake",
                        "object": "chat.completion.chunk",
                        "created": 0,
                        "model": model,
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                    }

                events: list[tuple[str | None, Any]] = [
                    (None, chunk({"role": "assistant", "content": ""}))
                ]
                events += [(None, chunk({"content": p})) for p in pieces]
                events.append((None, chunk({}, "stop")))
                if fake.usage and (body.get("stream_options") or {}).get("include_usage"):
                    events.append(
                        (
                            None,
                            {
                                "id": "chatcmpl-fake",
                                "object": "chat.completion.chunk",
                                "created": 0,
                                "model": model,
                                "choices": [],
                                "usage": {
                                    "prompt_tokens": usage[0],
                                    "completion_tokens": usage[1],
                                    "total_tokens": sum(usage),
                                },
                            },
                        )
                    )
                events.append((None, "[DONE]"))
                self._sse(events)

        return Handler
