"""API keys: where they come from, and the filter that keeps them out of everything written.

A key comes from the environment (``ANTHROPIC_API_KEY``, ``OPENAI_API_KEY``, or
``GENESYS_OPENAI_COMPATIBLE_API_KEY`` for a local server) or from a keys file outside any designs
repository (``~/.config/genesys/keys.toml`` by default)::

    anthropic = "sk-ant-..."
    openai = "sk-..."
    openai-compatible = "..."   # most local servers need none

Every key that is loaded is registered with the process-wide ``Redactor``; the designer passes
every text it writes (dialogue.jsonl, proposal.md, review.md, unit files, dialogue events) and
every prompt it sends through it, and ``install_log_redaction`` makes every log record pass
through it too. The redactor itself lives in ``genesys_tui.redaction`` (re-exported here), so
the store, the checker and the loop can use it without importing the agents.
"""

from __future__ import annotations

import os
from pathlib import Path

from genesys_tui.config import load_toml
from genesys_tui.errors import ConfigError
from genesys_tui.redaction import REDACT, REDACTED, Redactor, install_log_redaction

__all__ = [
    "ENV_VARS", "KEYS_FILE_ENV", "REDACT", "REDACTED", "Redactor", "api_key",
    "default_keys_file", "install_log_redaction", "load_keys_file",
]  # fmt: skip

ENV_VARS = {
    "anthropic": "ANTHROPIC_API_KEY",
    "openai": "OPENAI_API_KEY",
    "openai-compatible": "GENESYS_OPENAI_COMPATIBLE_API_KEY",
}
KEYS_FILE_ENV = "GENESYS_KEYS_FILE"


def default_keys_file() -> Path:
    """``$GENESYS_KEYS_FILE``, else ``$XDG_CONFIG_HOME/genesys/keys.toml`` (``~/.config``)."""
    if os.environ.get(KEYS_FILE_ENV):
        return Path(os.environ[KEYS_FILE_ENV])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "genesys" / "keys.toml"


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
