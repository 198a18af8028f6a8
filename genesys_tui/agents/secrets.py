"""API keys: where they come from, and the filter that keeps them out of everything written.

A key comes from the environment (``ANTHROPIC_API_KEY``, ``OPENAI_API_KEY``, or
``GENESYS_OPENAI_COMPATIBLE_API_KEY`` for a local server) or from a keys file outside any designs
repository (``~/.config/genesys/keys.toml`` by default)::

    anthropic = "sk-ant-..."
    openai = "sk-..."
    openai-compatible = "..."   # most local servers need none

Every key that is loaded is registered with the process-wide ``Redactor``; the designer passes
every text it writes (dialogue.jsonl, proposal.md, review.md, unit files, dialogue events) through
it, and ``install_log_redaction`` makes every log record pass through it too.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from pathlib import Path

from genesys_tui.config import load_toml
from genesys_tui.errors import ConfigError

ENV_VARS = {
    "anthropic": "ANTHROPIC_API_KEY",
    "openai": "OPENAI_API_KEY",
    "openai-compatible": "GENESYS_OPENAI_COMPATIBLE_API_KEY",
}
KEYS_FILE_ENV = "GENESYS_KEYS_FILE"
REDACTED = "[redacted]"
# Shapes of well-known keys, redacted even when they were never loaded through here.
_KEY_SHAPES = re.compile(r"\b(sk-ant-[A-Za-z0-9_\-]{8,}|sk-(?:proj-)?[A-Za-z0-9_\-]{20,})")


def default_keys_file() -> Path:
    """``$GENESYS_KEYS_FILE``, else ``$XDG_CONFIG_HOME/genesys/keys.toml`` (``~/.config``)."""
    if os.environ.get(KEYS_FILE_ENV):
        return Path(os.environ[KEYS_FILE_ENV])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "genesys" / "keys.toml"


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


def _inside_designs_repository(path: Path) -> Path | None:
    """The designs repository ``path`` lies in (a git work tree with ``.git/genesys``), if any."""
    for parent in path.resolve().parents:
        if (parent / ".git" / "genesys").is_dir():
            return parent
    return None


def load_keys_file(path: Path) -> dict[str, str]:
    """Provider -> key from a keys file; refuses a file inside a designs repository."""
    repo = _inside_designs_repository(path)
    if repo is not None:
        raise ConfigError(
            f"keys file {path} lies inside the designs repository {repo}; move it outside "
            "(designs repositories are shared and committed, keys must never be)"
        )
    data = load_toml(path)
    keys: dict[str, str] = {}
    for provider, value in data.items():
        if not isinstance(value, str):
            raise ConfigError(f"{path}: {provider} must be a string (the API key)")
        keys[provider] = value
        REDACT.add(value)
    return keys


def api_key(provider: str, keys_file: str | Path = "", required: bool = True) -> str | None:
    """The key for ``provider`` (``anthropic``, ``openai``, ``openai-compatible``).

    The environment wins over the keys file. Every key found is registered with ``REDACT``.
    Raises ConfigError naming both places when ``required`` and no key is found.
    """
    env = ENV_VARS.get(provider)
    value = os.environ.get(env) if env else None
    path = Path(keys_file) if keys_file else default_keys_file()
    if not value and path.is_file():
        value = load_keys_file(path).get(provider)
    if value:
        REDACT.add(value)
        return value
    if required:
        raise ConfigError(
            f"no API key for {provider}: set {env} in the environment, or put "
            f'{provider} = "..." in {path} (outside any designs repository)'
        )
    return None


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
