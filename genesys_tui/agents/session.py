"""One design session: propose -> review (until the rating passes) -> plan -> for each unit:
code -> check -> observe (until it passes), every loop bounded and every stop recorded.

The session is the flow of the seed paper's designer. Its bounds come from ``AgentsConfig``:
proposal revisions, implementation rounds per design, attempts per unit, malformed replies
answered per call, and the cost caps of the ``CostLedger`` (checked before every call). Whatever
stops it (success, a bound, the budget, a provider that gave up) ends as an ``Outcome`` with a
reason and the files made so far; nothing is raised to the caller but programming errors.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from genesys_tui.agents import briefs
from genesys_tui.agents.context import PaperSearch, ReferenceIndex
from genesys_tui.agents.costs import BudgetExhausted, CostLedger
from genesys_tui.agents.dialogue import Transcript
from genesys_tui.agents.plan import Assembly, UnitTask
from genesys_tui.agents.providers import Message, Provider, ProviderError
from genesys_tui.agents.replies import (
    ProposalDraft,
    ReplyError,
    Review,
    SearchRequest,
    last_json,
    parse_proposal,
    parse_review,
    parse_unit_code,
    parse_verdict,
    strip_json_tail,
)
from genesys_tui.agents.secrets import REDACT
from genesys_tui.agents.settings import AgentsConfig
from genesys_tui.design import Design
from genesys_tui.designer import DesignRequest
from genesys_tui.draft import structural_hash
from genesys_tui.errors import DesignError

T = TypeVar("T")


@dataclass(frozen=True)
class Verdict:
    """What the checker said about one assembled design, as the session needs it."""

    ok: bool
    text: str  # the report for agents, verbatim
    files: tuple[str, ...] = ()  # design files the errors point at
    units: tuple[str, ...] = ()  # unit ids the errors point at


#: Checks a design; the LLM designer wraps the real checker (``genesys_tui.checker``).
CheckFn = Callable[[Design], Verdict]


class Stopped(Exception):
    def __init__(self, stage: str, code: str, reason: str) -> None:
        super().__init__(reason)
        self.stage, self.code, self.reason = stage, code, reason


@dataclass
class Outcome:
    design: Design | None  # None when the session stopped without a valid design
    title: str = ""
    rationale: str = ""
    reason: str = ""  # why it stopped without a design
    files: dict[str, str] = field(default_factory=dict)
    cost_usd: float = 0.0
    attempts: int = 0  # implementation rounds (each ended with a check)
    stats: dict[str, Any] = field(default_factory=dict)


class DesignSession:
    """Runs once: ``DesignSession(...).run()``."""

    def __init__(
        self,
        request: DesignRequest,
        agents: Mapping[str, Provider],
        config: AgentsConfig,
        ledger: CostLedger,
        check: CheckFn,
        transcript: Transcript,
        key: str,
        references: ReferenceIndex | None = None,
        papers: PaperSearch | None = None,
    ) -> None:
        self.request, self.agents, self.config = request, agents, config
        self.ledger, self.check, self.log, self.key = ledger, check, transcript, key
        self.references, self.papers = references, papers
        self.draft: ProposalDraft | None = None
        self.reviews: list[Review] = []
        self.codes: dict[str, str] = {}
        self.assembly: Assembly | None = None
        self.design: Design | None = None
        self.verdict: Verdict | None = None  # the last check
        self.attempts = 0
        self.unit_attempts: Counter[str] = Counter()
        self.calls = 0
        self._systems: dict[str, str] = {}

    # ---------------------------------------------------------------- the flow

    def run(self) -> Outcome:
        t0 = time.monotonic()
        stage, code, reason = "done", "accepted", ""
        try:
            self.draft = self._propose()
            self.assembly = self._plan(self.draft)
            self.design = self._implement(self.draft, self.assembly)
        except Stopped as stop:
            stage, code, reason = stop.stage, stop.code, stop.reason
        except BudgetExhausted as exc:
            stage, code, reason = self._stage(), "budget", str(exc)
        except ProviderError as exc:
            stage, code, reason = self._stage(), "provider_error", str(exc)
        self.log.stop(stage, code, reason or "the design passed the checker and the observer")
        return self._outcome(stage, code, reason, time.monotonic() - t0)

    def _stage(self) -> str:
        if self.draft is None or not self._accepted():
            return "proposal"
        return "plan" if self.assembly is None else "implementation"

    def _accepted(self) -> bool:
        return bool(self.reviews) and self.reviews[-1].rating >= self.config.review_threshold

    def _propose(self) -> ProposalDraft:
        kind, cfg = self.request.kind, self.config
        units = set(self.request.parents[0].design.units) if kind == "mutation" else set()
        hits = self.references.search(self._query(), 5) if self.references else []
        conv = [Message("user", briefs.proposer_brief(self.request, hits))]
        searches = 0

        def parse(text: str) -> ProposalDraft | SearchRequest:
            found = parse_proposal(text, kind, units)
            if isinstance(found, SearchRequest) and searches >= cfg.max_searches:
                raise ReplyError("no searches are left: write the proposal now")
            return found

        for revision in range(cfg.max_revisions + 1):
            while True:
                found = self._ask("proposer", conv, parse)
                if isinstance(found, ProposalDraft):
                    break
                searches += 1
                hits = self._search(found.query)
                self.log.note("proposer", f"search {found.query!r}: {len(hits)} hit(s)")
                left = cfg.max_searches - searches
                conv.append(Message("user", briefs.search_results(found.query, hits, left)))
            self.draft = found
            brief = briefs.reviewer_brief(self.request, found, revision + 1)
            review = self._ask("reviewer", [Message("user", brief)], parse_review)
            self.reviews.append(review)
            if review.rating >= cfg.review_threshold:
                return found
            if revision == cfg.max_revisions:
                raise Stopped(
                    "proposal",
                    "review_threshold",
                    f"the reviewer rated the proposal {review.rating}/5 after {revision} "
                    f"revision(s); it needs {cfg.review_threshold}",
                )
            conv.append(Message("user", briefs.revision_brief(review, cfg.review_threshold)))
        raise AssertionError("unreachable")

    def _query(self) -> str:
        words = [p.design.name + " " + p.design.description for p in self.request.parents]
        return " ".join(words) or "language model block attention recurrence"

    def _search(self, query: str) -> list[Any]:
        hits = self.references.search(query, 5) if self.references else []
        return hits + (self.papers.search(query, 3) if self.papers else [])

    def _plan(self, draft: ProposalDraft) -> Assembly:
        conv = [Message("user", briefs.planner_brief(self.request, draft))]
        return self._ask(
            "planner", conv, lambda text: Assembly(last_json(text), self.request, draft.unit)
        )

    def _implement(self, draft: ProposalDraft, assembly: Assembly) -> Design:
        cfg, tasks = self.config, assembly.tasks
        convs: dict[str, list[Message]] = {t.id: [] for t in tasks}
        feedback: dict[str, str] = {}
        pending = list(tasks)
        taken = {structural_hash(p.design): p.id for p in self.request.parents}
        taken |= {structural_hash(s): s.name for s in self.request.siblings}
        for attempt in range(1, cfg.max_attempts + 1):
            for task in pending:
                self._write(task, draft, assembly, convs[task.id], feedback.get(task.id))
            verdict, design = self._assemble_and_check(draft, assembly, taken)
            self.verdict, self.attempts = verdict, attempt
            self.log.check(verdict.ok, verdict.text, attempt)
            at_fault = [t for t in tasks if t.file in verdict.files or t.id in verdict.units]
            reviewed = tasks if verdict.ok else (at_fault or tasks)
            verdicts = {}
            for task in reviewed:
                brief = briefs.observer_brief(task, self.codes[task.id], verdict.ok, verdict.text)
                verdicts[task.id] = self._ask("observer", [Message("user", brief)], parse_verdict)
            if verdict.ok and all(v.accept for v in verdicts.values()):
                assert design is not None
                return design
            pending = [t for t in reviewed if not (verdict.ok and verdicts[t.id].accept)]
            for task in pending:
                feedback[task.id] = briefs.retry_brief(verdict.text, verdicts[task.id].feedback)
        raise Stopped(
            "implementation",
            "attempts",
            f"the design still failed after {cfg.max_attempts} implementation attempts",
        )

    def _write(
        self,
        task: UnitTask,
        draft: ProposalDraft,
        assembly: Assembly,
        conv: list[Message],
        feedback: str | None,
    ) -> None:
        self.unit_attempts[task.id] += 1
        if self.unit_attempts[task.id] > self.config.max_unit_attempts:
            raise Stopped(
                "implementation",
                "unit_attempts",
                f"unit {task.id!r} ({task.cls}) still failed after "
                f"{self.config.max_unit_attempts} attempts",
            )
        brief = briefs.coder_brief(task, draft, assembly) if feedback is None else feedback
        conv.append(Message("user", brief))
        slots, args = set(task.children), set(task.args)
        self.codes[task.id] = self._ask(
            "coder", conv, lambda text: parse_unit_code(text, task.cls, task.role, slots, args)
        )

    def _assemble_and_check(
        self, draft: ProposalDraft, assembly: Assembly, taken: Mapping[str, str]
    ) -> tuple[Verdict, Design | None]:
        try:
            design = assembly.build(draft.name, self.codes)
        except DesignError as exc:
            text = f"The design could not be assembled: {exc}"
            files = tuple(t.file for t in assembly.tasks if t.file in str(exc))
            return Verdict(False, text, files), None
        self.design = design
        dup = taken.get(structural_hash(design))
        if dup is not None:
            text = (
                f"The design computes exactly what {dup} computes (same units, code and "
                "arguments). Change the unit so that it implements the proposal's new idea."
            )
            return Verdict(False, text), None
        return self.check(design), design

    # ---------------------------------------------------------------- one exchange

    def _ask(self, role: str, conv: list[Message], parse: Callable[[str], T]) -> T:
        """Send ``conv`` to ``role``'s model, every message redacted; parse the reply, answering
        a malformed one with its parse error (bounded). Appends the exchange to ``conv``."""
        provider = self.agents[role]
        if role not in self._systems:
            self._systems[role] = _system(role, self.config)
            self.log.system(role, self._systems[role])
            price, known = self.ledger.prices.price(provider.provider, provider.model)
            if not known and provider.provider != "openai-compatible":
                self.log.note(
                    role,
                    f"no price for {provider.provider} {provider.model} in the price table: "
                    f"charged at the default ${price.input}/${price.output} per million "
                    "tokens in/out; add it to your prices_file",
                )
        for tries in range(self.config.max_format_retries + 1):
            self.ledger.ensure_budget(self.key)
            # Prompts quote check reports and other agents' replies: redact all before sending.
            conv[:] = [Message(m.role, REDACT(m.content)) for m in conv]
            self.log.prompt(role, provider.model, conv[-1].content)
            reply = provider.complete(
                REDACT(self._systems[role]),
                conv,
                on_chunk=lambda text: self.log.chunk(role, text),
                on_retry=lambda text: self.log.note(role, text),
            )
            self.calls += 1
            usd = self.ledger.charge(self.key, role, provider.provider, provider.model, reply.usage)
            self.log.reply(role, reply.model, reply.text, reply.usage, usd, reply.retries)
            conv.append(Message("assistant", reply.text))
            try:
                return parse(reply.text)
            except ReplyError as exc:
                self.log.note(role, f"malformed reply ({tries + 1}): {exc}")
                conv.append(
                    Message(
                        "user",
                        f"Your reply could not be used: {exc}\n\nReply again, in the required "
                        "format.",
                    )
                )
        raise Stopped(
            self._stage(),
            "malformed_replies",
            f"the {role} sent {self.config.max_format_retries + 1} malformed replies in a row; "
            f"the last: {conv[-1].content.splitlines()[0]}",
        )

    # ---------------------------------------------------------------- the result

    def _outcome(self, stage: str, code: str, reason: str, seconds: float) -> Outcome:
        ok = code == "accepted"
        totals = self.ledger.by_design.get(self.key)
        written = [
            self.codes[t.id]
            for t in (self.assembly.tasks if self.assembly else [])
            if t.id in self.codes
        ]
        stats: dict[str, Any] = {
            "kind": self.request.kind,
            "parents": [p.id for p in self.request.parents],
            "valid": ok,
            "stop_stage": stage,
            "stop": code,
            "reason": REDACT(reason),
            "attempts": self.attempts,
            "unit_attempts": dict(self.unit_attempts),
            "revisions": max(len(self.reviews) - 1, 0),
            "rating": self.reviews[-1].rating if self.reviews else None,
            "calls": self.calls,
            "cost_usd": round(totals.usd if totals else 0.0, 6),
            "input_tokens": totals.input_tokens if totals else 0,
            "output_tokens": totals.output_tokens if totals else 0,
            "check_ok": self.verdict.ok if self.verdict else None,
            "check_summary": self.verdict.text.split("\n", 1)[0] if self.verdict else "",
            "loc_written": sum(_loc(c) for c in written),
            "loc_design": sum(_loc(s) for s in self.design.sources.values()) if self.design else 0,
            "seconds": round(seconds, 3),
            "seed": self.request.seed,
            "models": {role: p.model for role, p in sorted(self.agents.items())},
            # models charged at their provider's default price: the cost above is a guess
            "defaulted_prices": sorted(
                {
                    f"{p.provider}:{p.model}"
                    for p in self.agents.values()
                    if self.ledger.prices.defaulted(p.provider, p.model)
                }
            ),
        }
        self.log.summary(stats)
        files = self._files(ok, reason)
        title = self.draft.title if self.draft else ""
        rationale = _rationale(self.draft.text) if self.draft else ""
        return Outcome(
            self.design if ok else None,
            REDACT(title),
            REDACT(rationale),
            "" if ok else f"{stage}: {REDACT(reason)}",
            files,
            stats["cost_usd"],
            self.attempts,
            stats,
        )

    def _files(self, ok: bool, reason: str) -> dict[str, str]:
        files: dict[str, str] = {}
        if self.draft is not None:
            files["proposal.md"] = strip_json_tail(self.draft.text) + "\n"
        if self.reviews:
            files["review.md"] = _review_md(self.reviews, self.config.review_threshold)
        if not ok:
            files["FAILURE.md"] = f"# The designer stopped\n\n{reason}\n"
            if self.design is not None:
                files["design.json"] = self.design.to_json()
                files.update(self.design.sources)
            elif self.assembly is not None:
                for task in self.assembly.tasks:
                    if task.id in self.codes:
                        files[task.file] = self.codes[task.id]
        files["dialogue.jsonl"] = self.log.to_jsonl()
        return {rel: REDACT(text) for rel, text in files.items()}


def _system(role: str, config: AgentsConfig) -> str:
    from genesys_tui.agents.instructions import system_prompt

    return system_prompt(role, threshold=config.review_threshold, max_searches=config.max_searches)


def _loc(source: str) -> int:
    """Lines of code: non-blank lines that are not comments."""
    return sum(1 for ln in source.splitlines() if ln.strip() and not ln.strip().startswith("#"))


def _rationale(text: str, limit: int = 600) -> str:
    """The proposal's "why" section (else its body) for the commit message, its line structure
    kept (a bullet list stays a list): spaces collapsed within lines, blank runs to one, cut at
    a line end near ``limit`` characters."""
    body = strip_json_tail(text)
    for heading in ("## Why it might help", "## Motivation"):
        if heading in body:
            body = body.split(heading, 1)[1].split("\n## ", 1)[0]
            break
    lines: list[str] = []
    for raw in body.strip().splitlines():
        line = (raw[: len(raw) - len(raw.lstrip())] + " ".join(raw.split())).rstrip()
        if line or (lines and lines[-1]):
            lines.append(line)
    out = ""
    for line in lines:
        if len(out) + len(line) + 1 > limit:
            return out.rstrip() or line[:limit]
        out += line + "\n"
    return out.rstrip()


def _review_md(reviews: list[Review], threshold: int) -> str:
    last = reviews[-1]
    out = [
        f"# Review\n\nRating: {last.rating}/5 (a proposal passes at {threshold}).",
        strip_json_tail(last.text),
    ]
    for i, review in enumerate(reviews[:-1], start=1):
        out.append(f"## Draft {i}: rated {review.rating}/5\n\n{strip_json_tail(review.text)}")
    return "\n\n".join(out) + "\n"
