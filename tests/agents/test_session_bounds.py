"""The bounded flow: malformed replies, searches, reviews below the threshold, units that never
pass, budgets. The checker here is its static stage (real, and milliseconds)."""

from __future__ import annotations

import json

import pytest

from genesys_tui.agents.context import ReferenceIndex
from genesys_tui.agents.designer import LLMDesigner
from genesys_tui.agents.dialogue import read_summary
from genesys_tui.agents.providers import AnthropicProvider, OpenAIProvider, RetryPolicy
from genesys_tui.agents.settings import ROLE_NAMES, AgentsConfig
from genesys_tui.designer import DesignFailure, DesignRequest, Proposal
from tests.agents import scripts as S
from tests.agents.conftest import ANTHROPIC_KEY, OPENAI_KEY, static_check
from tests.agents.fake_llm import FakeLLM

FULL = {
    "proposer": [S.proposal()],
    "reviewer": [S.REVIEW_OK],
    "planner": [S.MUTATION_PLAN],
    "coder": [S.code(S.SWIGLU)],
    "observer": [S.ACCEPT],
}


def _designer(url: str, kind: str = "openai", **config: object) -> LLMDesigner:
    retry = RetryPolicy(backoff_s=0.01)
    if kind == "anthropic":
        provider = AnthropicProvider("claude-haiku-4-5", ANTHROPIC_KEY, url, retry=retry)
    else:
        provider = OpenAIProvider("gpt-4.1-mini", OPENAI_KEY, url + "/v1", retry=retry)
    cfg = AgentsConfig(**config)  # type: ignore[arg-type]
    return LLMDesigner(
        dict.fromkeys(ROLE_NAMES, provider),
        cfg,
        check=static_check,
        references=ReferenceIndex.library(),
    )


def _run(script: dict, parent, kind: str = "openai", **config: object):
    with FakeLLM(script) as fake:
        out = _designer(fake.url, kind, **config).design(DesignRequest("mutation", (parent,), 1))
        return out, fake.requests, fake.remaining()


def _last_user(request) -> str:
    return request.body["messages"][-1]["content"]


def test_malformed_replies_are_answered_with_the_parse_error(gpt_parent) -> None:
    bad_plan = S.plan(
        base="gpt-1",
        write=[
            {
                "id": "attn",
                "class": "X",
                "role": "sequence_mixer",
                "spec": "changes a protected unit, not the chosen one",
            }
        ],
    )
    script = {
        **FULL,
        "reviewer": ["Looks fine to me.", S.REVIEW_OK],
        "planner": [bad_plan, S.MUTATION_PLAN],
    }
    out, requests, left = _run(script, gpt_parent)
    assert isinstance(out, Proposal) and left == {}
    reviewer = [r for r in requests if r.role == "reviewer"]
    assert "could not be used" in _last_user(reviewer[1]) and "```json" in _last_user(reviewer[1])
    planner = [r for r in requests if r.role == "planner"]
    assert "writes exactly one unit, the one the proposal chose ('mlp')" in _last_user(planner[1])


def test_malformed_replies_are_bounded(gpt_parent) -> None:
    script = {**FULL, "reviewer": ["no verdict"] * 3}
    out, requests, _ = _run(script, gpt_parent, max_format_retries=2)
    assert isinstance(out, DesignFailure) and "malformed" in out.reason
    assert sum(r.role == "reviewer" for r in requests) == 3
    assert read_summary(out.files["dialogue.jsonl"])["stop"] == "malformed_replies"


def test_the_proposer_may_search_the_reference_library(gpt_parent) -> None:
    search = '```json\n{"search": "retention decay chunkwise"}\n```'
    out, requests, _ = _run({**FULL, "proposer": [search, S.proposal()]}, gpt_parent)
    assert isinstance(out, Proposal)
    second = [r for r in requests if r.role == "proposer"][1]
    assert "retnet" in _last_user(second)


def test_a_proposal_below_the_threshold_is_revised_then_abandoned(gpt_parent) -> None:
    script = {
        **FULL,
        "proposer": [S.proposal(), S.proposal()],
        "reviewer": [S.REVIEW_LOW, S.REVIEW_LOW],
    }
    out, requests, _ = _run(script, gpt_parent, max_revisions=1)
    assert isinstance(out, DesignFailure)
    assert "rated the proposal 2/5 after 1 revision(s); it needs 4" in out.reason
    proposer = [r for r in requests if r.role == "proposer"]
    assert "underspecified" not in _last_user(proposer[0])
    assert "does not say how the width is chosen" in _last_user(proposer[1])
    assert {"proposal.md", "review.md", "FAILURE.md", "dialogue.jsonl"} <= set(out.files)
    assert "Draft 1: rated 2/5" in out.files["review.md"]


def test_a_unit_that_never_passes_stops_after_its_attempts(gpt_parent) -> None:
    script = {**FULL, "coder": [S.code(S.SWIGLU_BAD)] * 2, "observer": [S.REVISE] * 2}
    out, _, left = _run(script, gpt_parent, max_unit_attempts=2)
    assert isinstance(out, DesignFailure) and left == {}
    assert "unit 'mlp' (SwiGLU) still failed after 2 attempts" in out.reason
    assert "import os" in out.files["units/swi_glu.py"]  # the failed code is kept
    stats = read_summary(out.files["dialogue.jsonl"])
    assert (stats["attempts"], stats["stop"], stats["valid"]) == (2, "unit_attempts", False)


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
def test_budget_exhaustion_stops_the_designer_cleanly(gpt_parent, kind: str) -> None:
    out, requests, _ = _run(FULL, gpt_parent, kind, design_budget_usd=0.0001)
    assert isinstance(out, DesignFailure)
    assert out.reason.startswith("proposal: the design budget is spent")
    assert [r.role for r in requests] == ["proposer"]  # refused before the second call
    assert out.cost_usd > 0 and "proposal.md" in out.files
    entries = [json.loads(line) for line in out.files["dialogue.jsonl"].splitlines()]
    stop = next(e for e in entries if e["kind"] == "stop")
    assert stop["code"] == "budget" and "design_budget_usd" in stop["text"]
