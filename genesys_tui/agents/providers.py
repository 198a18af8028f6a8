"""Model providers: Anthropic and OpenAI through their official SDKs, and any server that speaks
OpenAI's Chat Completions API (vLLM, Ollama, llama.cpp's server) through ``base_url``.

Every provider streams: ``complete`` calls ``on_chunk`` with each piece of text as it arrives
and returns the whole ``Reply`` with the token usage the server reported. The SDKs' own retries
are switched off so that retrying is one policy, here: a 429, a 5xx, a timeout or a dropped
connection is retried after an exponential backoff with seeded jitter (honouring the server's
``retry-after`` up to the cap), a bounded number of times; each retry is announced through
``on_retry``. Anything else (a bad key, a bad request) raises ProviderError at once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from genesys_tui.agents.costs import Usage, estimate_tokens
from genesys_tui.agents.secrets import REDACT
from genesys_tui.errors import GenesysError

ChunkFn = Callable[[str], None]
RetryFn = Callable[[str], None]
PROVIDERS = ("anthropic", "openai", "openai-compatible")


class ProviderError(GenesysError):
    """A model request failed for good (not retryable, or retries exhausted)."""


@dataclass(frozen=True)
class Message:
    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True)
class Reply:
    text: str
    usage: Usage
    model: str  # the model the server says answered
    stop_reason: str = ""
    retries: int = 0  # retried requests before this reply


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 4  # retries after the first request
    backoff_s: float = 1.0  # first delay, doubled per retry
    backoff_max_s: float = 30.0  # cap on any one delay
    seed: int = 0  # seeds the jitter


class Provider(Protocol):
    provider: str  # one of PROVIDERS: prices are looked up by it
    model: str

    def complete(
        self,
        system: str,
        messages: Sequence[Message],
        on_chunk: ChunkFn | None = None,
        on_retry: RetryFn | None = None,
    ) -> Reply: ...


def retry_delay(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait (``retry-after``), 0.0 when it did not say, and
    None when ``exc`` is not worth retrying (a 4xx other than 408/409/429, a local bug)."""
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        if status not in (408, 409, 429) and status < 500:
            return None
        headers = getattr(getattr(exc, "response", None), "headers", None) or {}
        try:
            return max(0.0, float(headers.get("retry-after", 0.0)))
        except (TypeError, ValueError):
            return 0.0
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & {"APIConnectionError", "APITimeoutError", "TimeoutError", "ConnectionError"}:
        return 0.0
    # Transport errors raised while a stream is being read arrive unwrapped.
    if type(exc).__module__.split(".")[0] in ("httpx2", "httpcore2", "httpx", "httpcore"):
        return 0.0
    return None


class SDKProvider:
    """The retry loop shared by the SDK-backed providers; subclasses implement ``_stream``."""

    provider = "openai"

    def __init__(
        self,
        model: str,
        *,
        max_tokens: int = 8192,
        temperature: float | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.model = model
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.retry = retry or RetryPolicy()
        self._rng = random.Random(self.retry.seed)
        self._sleep = sleep

    def complete(
        self,
        system: str,
        messages: Sequence[Message],
        on_chunk: ChunkFn | None = None,
        on_retry: RetryFn | None = None,
    ) -> Reply:
        """Stream one reply; retry transient failures per the policy (see the module doc)."""
        attempt = 0
        while True:
            try:
                reply = self._stream(system, messages, on_chunk or (lambda _: None))
                return Reply(reply.text, reply.usage, reply.model, reply.stop_reason, attempt)
            except Exception as exc:
                asked = retry_delay(exc)
                detail = REDACT(f"{type(exc).__name__}: {exc}")[:500]
                if asked is None:
                    raise ProviderError(f"{self.provider} {self.model}: {detail}") from None
                if attempt >= self.retry.max_retries:
                    raise ProviderError(
                        f"{self.provider} {self.model}: gave up after {attempt + 1} requests; "
                        f"last error: {detail}"
                    ) from None
                backoff = self.retry.backoff_s * 2**attempt * (0.5 + 0.5 * self._rng.random())
                delay = min(self.retry.backoff_max_s, max(asked, backoff))
                if on_retry is not None:
                    on_retry(
                        f"retry {attempt + 1}/{self.retry.max_retries} in {delay:.2f}s "
                        f"after {detail}"
                    )
                self._sleep(delay)
                attempt += 1

    def _stream(self, system: str, messages: Sequence[Message], on_chunk: ChunkFn) -> Reply:
        raise NotImplementedError


class AnthropicProvider(SDKProvider):
    """Claude models through the ``anthropic`` SDK's streaming Messages API."""

    provider = "anthropic"

    def __init__(
        self, model: str, api_key: str, base_url: str = "", timeout_s: float = 180.0, **kw: Any
    ) -> None:
        super().__init__(model, **kw)
        import anthropic

        self._client = anthropic.Anthropic(
            api_key=api_key, base_url=base_url or None, max_retries=0, timeout=timeout_s
        )

    def _stream(self, system: str, messages: Sequence[Message], on_chunk: ChunkFn) -> Reply:
        extra: dict[str, Any] = {}
        if self.temperature is not None:
            extra["temperature"] = self.temperature
        chat: list[Any] = [{"role": m.role, "content": m.content} for m in messages]
        with self._client.messages.stream(
            model=self.model,
            max_tokens=self.max_tokens,
            system=system,
            messages=chat,
            **extra,
        ) as stream:
            parts = []
            for text in stream.text_stream:
                parts.append(text)
                on_chunk(text)
            final = stream.get_final_message()
        usage = Usage(int(final.usage.input_tokens or 0), int(final.usage.output_tokens or 0))
        return Reply("".join(parts), usage, final.model or self.model, final.stop_reason or "")


class OpenAIProvider(SDKProvider):
    """OpenAI models, or any OpenAI-compatible server when ``base_url`` is given."""

    def __init__(
        self,
        model: str,
        api_key: str | None,
        base_url: str = "",
        timeout_s: float = 180.0,
        compatible: bool = False,
        **kw: Any,
    ) -> None:
        super().__init__(model, **kw)
        import openai

        self.provider = "openai-compatible" if compatible else "openai"
        self.compatible = compatible
        # Local servers usually want no key, but the SDK insists on one.
        self._client = openai.OpenAI(
            api_key=api_key or "no-key",
            base_url=base_url or None,
            max_retries=0,
            timeout=timeout_s,
        )

    def _stream(self, system: str, messages: Sequence[Message], on_chunk: ChunkFn) -> Reply:
        extra: dict[str, Any] = {}
        if self.temperature is not None:
            extra["temperature"] = self.temperature
        # OpenAI's reasoning models refuse max_tokens; older local servers know only it.
        extra["max_tokens" if self.compatible else "max_completion_tokens"] = self.max_tokens
        chat: list[Any] = [{"role": "system", "content": system}]
        chat += [{"role": m.role, "content": m.content} for m in messages]
        stream = self._client.chat.completions.create(
            model=self.model,
            messages=chat,
            stream=True,
            stream_options={"include_usage": True},
            **extra,
        )
        parts: list[str] = []
        usage: Usage | None = None
        model, stop = self.model, ""
        for chunk in stream:
            model = chunk.model or model
            if chunk.choices:
                choice = chunk.choices[0]
                text = choice.delta.content if choice.delta is not None else None
                if text:
                    parts.append(text)
                    on_chunk(text)
                stop = choice.finish_reason or stop
            if chunk.usage is not None:
                usage = Usage(chunk.usage.prompt_tokens or 0, chunk.usage.completion_tokens or 0)
        text = "".join(parts)
        if usage is None:
            prompt = system + "".join(m.content for m in messages)
            usage = Usage(estimate_tokens(prompt), estimate_tokens(text), estimated=True)
        return Reply(text, usage, model, stop)
