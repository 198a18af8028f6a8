"""Build an LLM designer from a spec: ``anthropic:MODEL``, ``openai:MODEL`` or
``openai-compatible:URL#MODEL``.

``genesys evolve --designer SPEC`` calls ``make_llm_designer`` for every spec but ``offline``.
Per-role models come from ``[agents.roles]`` in the settings file; API keys from the
environment or the keys file (``secrets.py``), never from the spec.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genesys_tui.agents.context import PaperSearch, ReferenceIndex
from genesys_tui.agents.designer import LLMDesigner
from genesys_tui.agents.providers import (
    AnthropicProvider,
    OpenAIProvider,
    Provider,
    RetryPolicy,
)
from genesys_tui.agents.secrets import api_key, install_log_redaction
from genesys_tui.agents.session import CheckFn
from genesys_tui.agents.settings import ROLE_NAMES, AgentsConfig
from genesys_tui.errors import ConfigError

CONFIG_ENV = "GENESYS_CONFIG"  # a settings TOML whose [agents] table applies by default
SPEC_HELP = "anthropic:MODEL, openai:MODEL or openai-compatible:URL#MODEL"


@dataclass(frozen=True)
class ModelSpec:
    provider: str  # anthropic, openai, openai-compatible
    model: str
    base_url: str = ""

    @classmethod
    def parse(cls, spec: str) -> ModelSpec:
        """Parse a spec; ConfigError with the accepted forms otherwise."""
        provider, sep, rest = spec.strip().partition(":")
        if not sep or not rest:
            raise ConfigError(f"designer spec {spec!r} must be {SPEC_HELP}")
        entry = PROVIDERS.get(provider)
        if entry is None:
            raise ConfigError(f"designer spec {spec!r}: unknown provider {provider!r}; {SPEC_HELP}")
        return entry.parse(spec, provider, rest)


def _model_only(spec: str, provider: str, rest: str) -> ModelSpec:
    return ModelSpec(provider, rest)


def _url_and_model(spec: str, provider: str, rest: str) -> ModelSpec:
    url, sep, model = rest.rpartition("#")
    if not sep or not url.startswith(("http://", "https://")) or not model:
        raise ConfigError(
            f"designer spec {spec!r}: an OpenAI-compatible server is given as "
            "openai-compatible:URL#MODEL, e.g. "
            "openai-compatible:http://localhost:8000/v1#Qwen/Qwen2.5-Coder-32B-Instruct"
        )
    return ModelSpec(provider, model, url)


def _anthropic(spec: ModelSpec, config: AgentsConfig, common: dict[str, Any]) -> Provider:
    key = api_key("anthropic", config.keys_file)
    assert key is not None
    return AnthropicProvider(spec.model, key, config.anthropic_base_url, **common)


def _openai(spec: ModelSpec, config: AgentsConfig, common: dict[str, Any]) -> Provider:
    key = api_key("openai", config.keys_file)
    return OpenAIProvider(spec.model, key, config.openai_base_url, **common)


def _openai_compatible(spec: ModelSpec, config: AgentsConfig, common: dict[str, Any]) -> Provider:
    key = api_key("openai-compatible", config.keys_file, required=False)
    return OpenAIProvider(spec.model, key, spec.base_url, compatible=True, **common)


@dataclass(frozen=True)
class ProviderEntry:
    """How a ``PROVIDER:...`` spec is read and its provider built."""

    form: str  # the spec as a user writes it, for help and errors
    parse: Callable[[str, str, str], ModelSpec]  # (whole spec, provider, rest) -> ModelSpec
    build: Callable[[ModelSpec, AgentsConfig, dict[str, Any]], Provider]


#: The LLM providers a designer spec may name, by its prefix. A new provider is a module with
#: its Provider class and one entry here.
PROVIDERS: dict[str, ProviderEntry] = {
    "anthropic": ProviderEntry("anthropic:MODEL", _model_only, _anthropic),
    "openai": ProviderEntry("openai:MODEL", _model_only, _openai),
    "openai-compatible": ProviderEntry(
        "openai-compatible:URL#MODEL", _url_and_model, _openai_compatible
    ),
}


def make_provider(spec: ModelSpec, config: AgentsConfig, seed: int = 0) -> Provider:
    """A provider for ``spec``; its key comes from the environment or the keys file."""
    common: dict[str, Any] = {
        "max_tokens": config.max_tokens,
        "temperature": config.temperature if config.temperature >= 0 else None,
        "retry": RetryPolicy(config.max_retries, config.backoff_s, config.backoff_max_s, seed),
        "timeout_s": config.timeout_s,
    }
    return PROVIDERS[spec.provider].build(spec, config, common)


def agents_config(config: AgentsConfig | Mapping[str, Any] | str | Path | None) -> AgentsConfig:
    """An AgentsConfig from itself, a settings mapping (its ``agents`` table, or the table
    itself), a TOML file's path, or None: the ``[agents]`` table of the file named by
    ``$GENESYS_CONFIG`` when it is set, else the defaults."""
    if config is None:
        env = os.environ.get(CONFIG_ENV)
        return AgentsConfig.from_toml(env) if env else AgentsConfig()
    if isinstance(config, AgentsConfig):
        return config
    if isinstance(config, (str, Path)):
        return AgentsConfig.from_toml(config)
    table = config.get("agents", config)
    return AgentsConfig.from_dict(dict(table))


def make_llm_designer(
    spec: str,
    config: AgentsConfig | Mapping[str, Any] | str | Path | None = None,
    *,
    check: CheckFn | None = None,
) -> LLMDesigner:
    """The LLM designer for ``spec`` (the default model of every role) and ``config``."""
    cfg = agents_config(config)
    if spec:
        cfg = cfg.with_designer(spec)
    if not cfg.designer:
        raise ConfigError(f"no designer model given; pass --designer {SPEC_HELP}")
    install_log_redaction()
    providers: dict[str, Provider] = {}
    agents: dict[str, Provider] = {}
    for i, role in enumerate(ROLE_NAMES):
        role_spec = cfg.spec_for(role)
        if role_spec not in providers:
            providers[role_spec] = make_provider(ModelSpec.parse(role_spec), cfg, seed=i)
        agents[role] = providers[role_spec]
    papers = PaperSearch.from_environment() if cfg.paper_search else None
    return LLMDesigner(
        agents,
        cfg,
        check=check,
        references=ReferenceIndex.library(),
        papers=papers,
        name=ModelSpec.parse(cfg.designer).model,
    )
