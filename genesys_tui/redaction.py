"""The redactor: the one filter every text Genesys writes or sends passes through, so that no
API key ends up in a report, a note, a commit message, an event log or a prompt.

API keys are registered with the process-wide ``REDACT`` as they are loaded
(``genesys_tui.agents.secrets``); anything shaped like a well-known key is redacted even when it
was never loaded. ``redact_data`` applies it to JSON-like data (the results notes),
``install_log_redaction`` to every log record. Plain data only: this module imports nothing of
Genesys, so every layer (the store, the checker, the loop, the agents) may use it.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

REDACTED = "[redacted]"
# Shapes of well-known keys, redacted even when they were never loaded through here.
_KEY_SHAPES = re.compile(r"\b(sk-ant-[A-Za-z0-9_\-]{8,}|sk-(?:proj-)?[A-Za-z0-9_\-]{20,})")


class Redactor:
    """Replaces every registered secret (and anything shaped like a known API key)."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, secret: str) -> None:
        # Very short strings would redact ordinary words; no real key is that short.
        if secret and len(secret) >= 8:
            with self._lock:
                self._secrets.add(secret)

    def __call__(self, text: str) -> str:
        """``text`` with every secret replaced by ``[redacted]``."""
        if not text:
            return text
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        for secret in secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return _KEY_SHAPES.sub(REDACTED, text)


#: The process-wide redactor every key is registered with.
REDACT = Redactor()


def redact_data(value: Any) -> Any:
    """``value`` (JSON-like: dicts, lists, tuples, strings, numbers) with every string in it,
    dict keys included, passed through ``REDACT``; other values are returned as they are."""
    if isinstance(value, str):
        return REDACT(value)
    if isinstance(value, dict):
        return {redact_data(k): redact_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_data(v) for v in value)
    return value


class _RedactingFactory:
    """A log record factory that redacts the formatted message as each record is made."""

    def __init__(self, inner: logging._LogRecordFactory) -> None:  # type: ignore[name-defined]
        self.inner = inner

    def __call__(self, *args: object, **kwargs: object) -> logging.LogRecord:
        record = self.inner(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the caller's bug, not ours to raise
            return record
        redacted = REDACT(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return record


def install_log_redaction() -> None:
    """Redact every log record of this process from now on (idempotent)."""
    current = logging.getLogRecordFactory()
    if not isinstance(current, _RedactingFactory):
        logging.setLogRecordFactory(_RedactingFactory(current))
