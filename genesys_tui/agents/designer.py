"""``LLMDesigner``: the ``Designer`` of the evolution loop, made of LLM agents.

Each request runs one ``DesignSession`` (propose, review, plan, code, check, observe) and comes
back as a ``Proposal`` (a design that passed the checker and the observer, with
``proposal.md``, ``review.md`` and ``dialogue.jsonl``) or a ``DesignFailure`` with the reason and
everything made on the way, which the loop commits too. Nothing raised inside a session escapes:
an unexpected error becomes a failure with its reason.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping

from genesys_tui.agents.context import PaperSearch, ReferenceIndex
from genesys_tui.agents.costs import CostLedger, PriceTable
from genesys_tui.agents.dialogue import Transcript
from genesys_tui.agents.providers import Provider
from genesys_tui.agents.secrets import REDACT
from genesys_tui.agents.session import CheckFn, DesignSession, Verdict
from genesys_tui.agents.settings import ROLE_NAMES, AgentsConfig
from genesys_tui.describe import describe_child
from genesys_tui.design import Design
from genesys_tui.designer import DesignFailure, DesignRequest, DialogueSink, Proposal


def checker_verdict(rung: str | None = None, config: object | None = None) -> CheckFn:
    """A CheckFn over the real checker (``genesys_tui.checker.check_design``)."""

    def check(design: Design) -> Verdict:
        from genesys_tui.checker import check_design

        report = check_design(design, rung=rung, config=config)  # type: ignore[arg-type]
        errors = report.errors
        return Verdict(
            report.ok,
            report.format_for_agent(),
            tuple(f.file for f in errors if f.file),
            tuple(f.unit for f in errors if f.unit),
        )

    return check


class LLMDesigner:
    """Designs with one provider per role (the same provider may serve several roles)."""

    def __init__(
        self,
        agents: Mapping[str, Provider],
        config: AgentsConfig | None = None,
        *,
        ledger: CostLedger | None = None,
        check: CheckFn | None = None,
        references: ReferenceIndex | None = None,
        papers: PaperSearch | None = None,
        name: str | None = None,
    ) -> None:
        missing = [role for role in ROLE_NAMES if role not in agents]
        if missing:
            raise ValueError(f"no provider for role(s) {missing}")
        self.agents = dict(agents)
        self.config = config or AgentsConfig()
        self.ledger = ledger or CostLedger(
            PriceTable.load(self.config.prices_file),
            self.config.design_budget_usd,
            self.config.run_budget_usd,
        )
        self.check = check or checker_verdict()
        self.references = references
        self.papers = papers
        self.name = name or self.agents["proposer"].model
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def remember(self, design: Design, proposal: str) -> None:
        """Make a past design's proposal searchable by later proposers."""
        if self.references is not None:
            self.references.add_design(design, proposal)

    def design(
        self, request: DesignRequest, say: DialogueSink | None = None
    ) -> Proposal | DesignFailure:
        with self._lock:
            key = f"{request.kind}-{request.seed}-{next(self._counter)}"
        for parent in request.parents:
            self.remember(parent.design, parent.proposal)
        log = Transcript(say)
        session = DesignSession(
            request,
            self.agents,
            self.config,
            self.ledger,
            self.check,
            log,
            key,
            self.references,
            self.papers,
        )
        try:
            out = session.run()
        except Exception as exc:  # a bug here must not stop the loop; the reason is kept
            reason = REDACT(f"designer error: {type(exc).__name__}: {exc}")
            log.stop("designer", "error", reason)
            return DesignFailure(
                reason,
                {"dialogue.jsonl": log.to_jsonl(), "FAILURE.md": f"# Designer error\n\n{reason}\n"},
                self.ledger.design_usd(key),
                max(session.attempts, 1),
            )
        if out.design is None:
            return DesignFailure(out.reason, out.files, out.cost_usd, max(out.attempts, 1))
        # the coder edits units, not design.json's description: describe what changed
        design = describe_child(out.design, out.title, [p.design for p in request.parents])
        self.remember(design, out.files.get("proposal.md", ""))
        return Proposal(
            design, out.title, out.rationale, out.files, out.cost_usd, out.attempts, out.stats
        )
