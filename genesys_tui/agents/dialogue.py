"""The record of one design session: every prompt, reply, retry, check and stop.

It becomes the design's ``dialogue.jsonl`` (one JSON object a line) and, as it happens, a stream
of dialogue events: each streamed chunk of a reply goes to the ``say`` sink the loop passed in.
Everything passes through the secrets redactor first. Streamed chunks are held back up to the
next whitespace, so a key split over two chunks is still one piece when it is redacted.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from genesys_tui.agents.costs import Usage
from genesys_tui.agents.secrets import REDACT
from genesys_tui.designer import DialogueSink


class Transcript:
    """Entries of one session, in order; ``say`` receives the live text."""

    def __init__(self, say: DialogueSink | None = None) -> None:
        self._say = say
        self.entries: list[dict[str, Any]] = []
        self._pending: dict[str, str] = {}
        self._lock = threading.Lock()

    def _add(self, kind: str, role: str, **fields: Any) -> None:
        entry = {"t": round(time.time(), 3), "kind": kind, "role": role}
        for key, value in fields.items():
            entry[key] = REDACT(value) if isinstance(value, str) else value
        with self._lock:
            self.entries.append(entry)

    def _emit(self, role: str, text: str) -> None:
        if self._say is not None and text:
            self._say(role, REDACT(text))

    def prompt(self, role: str, model: str, text: str) -> None:
        """The message sent to ``role``'s model (the system prompt is recorded once, apart)."""
        self._add("prompt", role, model=model, text=text)

    def system(self, role: str, text: str) -> None:
        self._add("system", role, text=text)

    def chunk(self, role: str, text: str) -> None:
        """A streamed piece of a reply: emitted up to its last whitespace, the rest held."""
        held = self._pending.get(role, "") + text
        cut = max(held.rfind(" "), held.rfind("\n"), held.rfind("\t"))
        if cut < 0:
            self._pending[role] = held
            return
        self._pending[role] = held[cut + 1 :]
        self._emit(role, held[: cut + 1])

    def reply(
        self, role: str, model: str, text: str, usage: Usage, cost_usd: float, retries: int
    ) -> None:
        """A whole reply: flushes what streaming held back, then records it."""
        self._emit(role, self._pending.pop(role, ""))
        self._emit(role, "\n")
        self._add(
            "reply",
            role,
            model=model,
            text=text,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            tokens_estimated=usage.estimated,
            cost_usd=round(cost_usd, 6),
            retries=retries,
        )

    def note(self, role: str, text: str, **fields: Any) -> None:
        """Something that happened (a retry, a malformed reply, a search): recorded and said."""
        self._pending.pop(role, None)
        self._add("note", role, text=text, **fields)
        self._emit(role, f"[{text}]\n")

    def check(self, ok: bool, text: str, attempt: int) -> None:
        self._add("check", "checker", ok=ok, text=text, attempt=attempt)
        self._emit("checker", f"[check {'passed' if ok else 'failed'}, attempt {attempt}]\n")

    def stop(self, stage: str, code: str, reason: str) -> None:
        """Why the session stopped (or a stage ended): recorded and said."""
        self._add("stop", "designer", stage=stage, code=code, text=reason)
        self._emit("designer", f"[stop at {stage}: {code}: {reason}]\n")

    def summary(self, stats: dict[str, Any]) -> None:
        """The last line: the session's statistics (what ``genesys stats`` reads)."""
        self._add("summary", "designer", stats=stats)

    def to_jsonl(self) -> str:
        with self._lock:
            return "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in self.entries)


def read_summary(jsonl: str) -> dict[str, Any] | None:
    """The session statistics in a ``dialogue.jsonl`` text, or None when it has none."""
    for line in reversed(jsonl.splitlines()):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict) and entry.get("kind") == "summary":
            stats = entry.get("stats")
            return stats if isinstance(stats, dict) else None
    return None
