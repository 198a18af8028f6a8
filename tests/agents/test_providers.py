"""Providers through the real SDKs against the fake server: streaming, usage, retries."""

from __future__ import annotations

import pytest

from genesys_tui.agents.providers import (
    AnthropicProvider,
    Message,
    OpenAIProvider,
    ProviderError,
    RetryPolicy,
)
from tests.agents.conftest import ANTHROPIC_KEY, OPENAI_KEY
from tests.agents.fake_llm import Fail, FakeLLM, Stall

SYSTEM = "Genesys agent role: coder\n\nWrite code."
REPLY = "A reply long enough to arrive in several streamed chunks of text, in order."


def _provider(kind: str, url: str, **kw):
    retry = RetryPolicy(max_retries=kw.pop("max_retries", 2), backoff_s=0.01, backoff_max_s=0.05)
    if kind == "anthropic":
        return AnthropicProvider("claude-test", ANTHROPIC_KEY, url, retry=retry, **kw)
    if kind == "openai":
        return OpenAIProvider("gpt-test", OPENAI_KEY, url + "/v1", retry=retry, **kw)
    return OpenAIProvider("local-test", None, url + "/v1", compatible=True, retry=retry, **kw)


KINDS = ["anthropic", "openai", "openai-compatible"]


@pytest.mark.parametrize("kind", KINDS)
def test_reply_streams_in_chunks_with_reported_usage(kind: str) -> None:
    with FakeLLM({"coder": [REPLY]}, chunk=10) as fake:
        chunks: list[str] = []
        reply = _provider(kind, fake.url).complete(SYSTEM, [Message("user", "go")], chunks.append)
    assert len(chunks) >= 7 and "".join(chunks) == reply.text == REPLY
    assert reply.usage.output_tokens == len(REPLY) // 4 and not reply.usage.estimated
    assert reply.usage.input_tokens > 0 and reply.retries == 0


def test_local_server_without_usage_is_estimated() -> None:
    with FakeLLM({"coder": [REPLY]}, usage=False) as fake:
        reply = _provider("openai-compatible", fake.url).complete(SYSTEM, [Message("user", "go")])
    assert reply.usage.estimated and reply.usage.output_tokens == len(REPLY) // 4


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "failure",
    [Fail(429, headers={"retry-after": "0"}), Fail(500), Fail(503), Fail(529)],
    ids=["429", "500", "503", "529"],
)
def test_transient_failures_are_retried_then_succeed(kind: str, failure: Fail) -> None:
    notes: list[str] = []
    with FakeLLM({"coder": [failure, REPLY]}) as fake:
        reply = _provider(kind, fake.url).complete(
            SYSTEM, [Message("user", "go")], on_retry=notes.append
        )
        assert len(fake.requests) == 2
    assert reply.text == REPLY and reply.retries == 1
    assert len(notes) == 1 and str(failure.status) in notes[0]


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
def test_a_timeout_is_retried(kind: str) -> None:
    with FakeLLM({"coder": [Stall(1.0), REPLY]}) as fake:
        reply = _provider(kind, fake.url, timeout_s=0.3).complete(SYSTEM, [Message("user", "x")])
    assert reply.text == REPLY and reply.retries == 1


@pytest.mark.parametrize("kind", KINDS)
def test_a_client_error_is_not_retried(kind: str) -> None:
    with FakeLLM({"coder": [Fail(400, "bad request"), REPLY]}) as fake:
        with pytest.raises(ProviderError, match="400"):
            _provider(kind, fake.url).complete(SYSTEM, [Message("user", "go")])
        assert len(fake.requests) == 1


def test_retries_are_bounded() -> None:
    with FakeLLM({"coder": [Fail(500)] * 5}) as fake:
        with pytest.raises(ProviderError, match="gave up after 3 requests"):
            _provider("anthropic", fake.url, max_retries=2).complete(SYSTEM, [Message("user", "")])
        assert len(fake.requests) == 3


def test_backoff_doubles_honours_retry_after_and_is_capped() -> None:
    slept: list[float] = []
    retry = RetryPolicy(max_retries=4, backoff_s=1.0, backoff_max_s=3.0, seed=0)
    steps = [Fail(500), Fail(429, headers={"retry-after": "2.5"}), Fail(500), Fail(500), REPLY]
    with FakeLLM({"coder": steps}) as fake:
        provider = OpenAIProvider(
            "m", OPENAI_KEY, fake.url + "/v1", retry=retry, sleep=slept.append
        )
        provider.complete(SYSTEM, [Message("user", "go")])
    assert 0.5 <= slept[0] <= 1.0  # 1 s, jittered down by at most half
    assert slept[1] >= 2.5  # the server asked for 2.5 s
    assert 2.0 <= slept[2] <= 3.0  # 4 s jittered, capped
    assert slept[3] == 3.0  # 8 s jittered (4 to 8), capped
