"""A secret that a unit raises in an exception message reaches nothing Genesys writes or sends:
not the check report (dict, JSON, agent text), not a results note, a commit message or a
committed file of the designs repository, not an event (log or subscriber), not a prompt to an
agent (the retry brief included). The key is registered with the process-wide redactor and is
shaped like no known key, so only the registration can redact it."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import pytest

from genesys_tui.agents.designer import LLMDesigner
from genesys_tui.agents.providers import OpenAIProvider, RetryPolicy
from genesys_tui.agents.session import Verdict
from genesys_tui.agents.settings import ROLE_NAMES, AgentsConfig
from genesys_tui.checker import CheckReport, check_design
from genesys_tui.design import Design, load_design
from genesys_tui.designer import DesignRequest, Parent, Proposal
from genesys_tui.evolve import events as ev
from genesys_tui.redaction import REDACT, REDACTED
from genesys_tui.store.repo import DesignsRepo
from tests.agents import scripts as S
from tests.agents.conftest import static_check
from tests.agents.fake_llm import FakeLLM
from tests.checker.conftest import FAST, GPT, gpt_variant

KEY = "genesys-fake-secret-7f3a9c2e1b0d"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> CheckReport:
    """The check report of a GPT variant whose MLP raises the key (registered first)."""
    REDACT.add(KEY)
    design = gpt_variant(tmp_path_factory.mktemp("leak"), f"raise ValueError('key={KEY}')")
    return check_design(design, config=FAST)


@pytest.fixture
def raw(report: CheckReport) -> str:
    """The finding's message as the sandbox sent it: the key is in it, unredacted."""
    message = report.errors[0].message
    assert KEY in message and report.errors[0].unit == "mlp", report.errors[0]
    return message


def test_the_check_report_never_shows_the_key(report: CheckReport, raw: str) -> None:
    texts = [report.to_json(), report.format_for_agent(), report.format_text(verbose=True),
             json.dumps(report.to_dict()), *(f.format() for f in report.findings),
             *(json.dumps(f.to_dict()) for f in report.findings)]  # fmt: skip
    assert not [t for t in texts if KEY in t]
    assert REDACTED in report.format_for_agent() and REDACTED in report.errors[0].to_dict()["code"]


def test_notes_commit_messages_and_files_never_show_the_key(
    tmp_path: Path, report: CheckReport, raw: str
) -> None:
    repo = DesignsRepo.create(tmp_path / "designs" / "run", seeds=False)
    files = {p.relative_to(GPT).as_posix(): p.read_text() for p in GPT.rglob("*.*")}
    files["proposal.md"] = f"# Why\n\nThe designer saw {raw}\n"
    with repo:
        record = repo.commit_design(
            files, designer="test", title=f"title {raw}", summary=f"summary {raw}"
        )
        findings = [dataclasses.asdict(f) for f in report.findings]  # raw, not to_dict()
        repo.attach(record.id, "check", {"ok": False, "summary": raw, "findings": findings})
        repo.attach(record.id, "failure", {"stage": "check", "reason": raw})
        results = json.dumps([repo.results(record.id), repo.get(record.id).to_dict()])
    git = ["git", "-C", str(repo.path)]
    note = subprocess.run([*git, "notes", "--ref=genesys", "show", record.commit],
                          capture_output=True, text=True, check=True).stdout  # fmt: skip
    log = subprocess.run([*git, "log", "--format=%B", record.commit], capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    shown = subprocess.run([*git, "show", f"{record.commit}:proposal.md"], capture_output=True,
                           text=True, check=True).stdout  # fmt: skip
    assert raw.split(KEY)[0] in note and REDACTED in note and REDACTED in log
    assert not [t for t in (note, log, shown, results) if KEY in t]


def test_events_never_show_the_key(tmp_path: Path, raw: str) -> None:
    log = tmp_path / "events.jsonl"
    bus = ev.EventBus(log)
    seen: list[ev.Event] = []
    bus.subscribe(seen.append)
    bus.emit(ev.CheckFinished(design="d-1", ok=False, summary=raw, seconds=1.0))
    bus.emit(ev.LoopError(message=raw, design="d-1", traceback=raw))
    bus.emit(ev.DesignProposed(title=raw, parents=(raw,), designer="x", operation="mutation",
                               reason="explore"))  # fmt: skip
    bus.emit(ev.Dialogue(role="coder", text=raw))
    bus.close()
    written = log.read_text()
    assert len(seen) == 4 and written.count(REDACTED) >= 5
    assert KEY not in written and not [e for e in seen if KEY in e.to_json()]


def test_agent_prompts_and_the_retry_brief_never_show_the_key(raw: str) -> None:
    checks = iter([Verdict(False, f"The design was rejected: {raw}")])

    def check(design: Design) -> Verdict:
        return next(checks, None) or static_check(design)

    revise = S.REVISE.replace("remove import os", f"the checker said {KEY}; fix it")
    script = {"proposer": [S.proposal()], "reviewer": [S.REVIEW_OK],
              "planner": [S.MUTATION_PLAN], "coder": [S.code(S.SWIGLU)] * 2,
              "observer": [revise, S.ACCEPT]}  # fmt: skip
    parent = Parent("gpt-1", load_design("gpt"), "# GPT\n\nThe reference transformer.")
    with FakeLLM(script) as fake:
        provider = OpenAIProvider("gpt-4.1-mini", "not-a-real-key", fake.url + "/v1",
                                  retry=RetryPolicy(backoff_s=0.01))  # fmt: skip
        designer = LLMDesigner(dict.fromkeys(ROLE_NAMES, provider), AgentsConfig(), check=check)
        out = designer.design(DesignRequest("mutation", (parent,), 1))
    assert isinstance(out, Proposal) and fake.remaining() == {}
    sent = [json.dumps(r.body) for r in fake.requests]
    retry = [r for r in fake.requests if r.role == "coder"][1]
    assert REDACTED in json.dumps(retry.body["messages"][-1])  # the retry brief, redacted
    assert not [body for body in sent if KEY in body]
