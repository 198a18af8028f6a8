"""The agents' settings: the ``[agents]`` table of a TOML file, overridden by flags.

A model is named by a *spec*: ``anthropic:MODEL``, ``openai:MODEL`` or
``openai-compatible:URL#MODEL`` (any server speaking OpenAI's Chat Completions API: vLLM,
Ollama, llama.cpp's server). ``designer`` is the spec every role uses unless ``[agents.roles]``
names another one for that role.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from genesys_tui.config import from_mapping, load_toml
from genesys_tui.errors import ConfigError

ROLE_NAMES = ("proposer", "reviewer", "planner", "coder", "observer")


@dataclasses.dataclass(frozen=True)
class RoleModels:
    """Per-role model specs; an empty string means: use ``AgentsConfig.designer``."""

    proposer: str = ""  # writes the proposal
    reviewer: str = ""  # rates it (a different model often catches more)
    planner: str = ""  # decides which units to write
    coder: str = ""  # writes each unit
    observer: str = ""  # reviews code and checker findings


@dataclasses.dataclass(frozen=True)
class AgentsConfig:
    """How the LLM designer talks to models and when it stops. Money is in US dollars."""

    designer: str = ""  # default model spec for every role (see the module docstring)
    roles: RoleModels = dataclasses.field(default_factory=RoleModels)  # per-role overrides
    review_threshold: int = 4  # the reviewer's rating (1-5) a proposal needs to pass
    max_revisions: int = 3  # proposal revisions after the first draft before giving up
    max_unit_attempts: int = 3  # implementation attempts per unit
    max_attempts: int = 5  # implementation rounds per design (each ends with a check)
    max_format_retries: int = 2  # times a malformed reply is answered with its parse error
    max_searches: int = 2  # reference searches the proposer may ask for per draft
    max_retries: int = 4  # retries of one request after 429, 5xx, a timeout or a dropped link
    backoff_s: float = 1.0  # first retry delay; doubled each time, with seeded jitter
    backoff_max_s: float = 30.0  # longest delay between retries
    timeout_s: float = 180.0  # seconds before one request counts as timed out
    max_tokens: int = 8192  # the longest reply asked for
    temperature: float = -1.0  # sampling temperature; below 0: the provider's default
    design_budget_usd: float = 2.0  # cost cap per design; 0: no cap
    run_budget_usd: float = 0.0  # cost cap for the whole run; 0: no cap
    prices_file: str = ""  # a TOML price table that overrides the shipped one
    keys_file: str = ""  # API keys file (default ~/.config/genesys/keys.toml); never in a repo
    anthropic_base_url: str = ""  # a proxy or gateway in front of the Anthropic API
    openai_base_url: str = ""  # the same for the OpenAI API
    paper_search: bool = True  # search papers when the network and a key are present

    def __post_init__(self) -> None:
        for name in ("review_threshold", "max_attempts", "max_unit_attempts", "max_tokens"):
            _require(name, getattr(self, name), lambda v: _int(v) and v >= 1, "a positive integer")
        if not 1 <= self.review_threshold <= 5:
            raise ConfigError(
                f"AgentsConfig.review_threshold must be between 1 and 5, got "
                f"{self.review_threshold!r}"
            )
        for name in ("max_revisions", "max_format_retries", "max_searches", "max_retries"):
            _require(name, getattr(self, name), lambda v: _int(v) and v >= 0, "an integer >= 0")
        for name in ("backoff_s", "backoff_max_s", "design_budget_usd", "run_budget_usd"):
            _require(name, getattr(self, name), lambda v: _num(v) and v >= 0, "a number >= 0")
        _require("timeout_s", self.timeout_s, lambda v: _num(v) and v > 0, "a positive number")
        _require("temperature", self.temperature, _num, "a number")
        for name in (
            "designer",
            "prices_file",
            "keys_file",
            "anthropic_base_url",
            "openai_base_url",
        ):
            _require(name, getattr(self, name), lambda v: isinstance(v, str), "a string")
        _require("paper_search", self.paper_search, lambda v: isinstance(v, bool), "true/false")
        if isinstance(self.roles, dict):
            object.__setattr__(self, "roles", from_mapping(RoleModels, self.roles, "roles"))
        for role in ROLE_NAMES:
            spec = getattr(self.roles, role)
            if not isinstance(spec, str):
                raise ConfigError(f"AgentsConfig.roles.{role} must be a model spec string")

    def spec_for(self, role: str) -> str:
        """The model spec ``role`` uses: its override, else ``designer``."""
        return getattr(self.roles, role) or self.designer

    def with_designer(self, spec: str) -> AgentsConfig:
        return dataclasses.replace(self, designer=spec)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AgentsConfig:
        """From an ``[agents]`` table; unknown keys raise ConfigError naming them."""
        return from_mapping(cls, data, "agents")

    @classmethod
    def from_toml(cls, path: str | Path) -> AgentsConfig:
        """The ``[agents]`` table of the TOML file at ``path`` (defaults where absent)."""
        table = load_toml(path).get("agents", {})
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [agents] must be a table")
        return cls.from_dict(table)


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _require(name: str, value: Any, ok: Any, what: str) -> None:
    if not ok(value):
        raise ConfigError(f"AgentsConfig.{name} must be {what}, got {value!r}")
