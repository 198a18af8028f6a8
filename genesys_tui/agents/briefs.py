"""The user messages each role receives: the task at hand and its context, as Markdown.

System prompts (``instructions.py``) say who an agent is and in what format it answers; these
briefs say what to work on now. Checker findings are passed on verbatim.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from genesys_tui.agents.context import (
    Hit,
    design_section,
    parents_section,
    references_section,
    siblings_section,
)
from genesys_tui.agents.plan import Assembly, UnitTask
from genesys_tui.agents.replies import ProposalDraft, Review, strip_json_tail
from genesys_tui.designer import DesignRequest

KIND_TASK = {
    "mutation": "Propose a **mutation** of the parent: change exactly one of its units.",
    "crossover": "Propose a **crossover** of the parents: recombine their units into one design.",
    "scratch": "Propose a new block design **from scratch**.",
}


def proposer_brief(request: DesignRequest, hits: Sequence[Hit]) -> str:
    return (
        f"# Task\n\n{KIND_TASK[request.kind]}\n\n# Parents\n\n{parents_section(request)}\n\n"
        f"# Siblings\n\n{siblings_section(request.siblings)}\n\n"
        f"# Related designs (reference library and earlier proposals)\n\n"
        f"{references_section(hits)}\n"
    )


def search_results(query: str, hits: Sequence[Hit], left: int) -> str:
    return (
        f"Search results for {query!r}:\n\n{references_section(hits)}\n\n"
        f"You may search {left} more time(s). Then write the proposal."
    )


def revision_brief(review: Review, threshold: int) -> str:
    return (
        f"The reviewer rated your proposal {review.rating}/5; it needs {threshold}. "
        f"The review:\n\n{strip_json_tail(review.text)}\n\nRevise the proposal to answer every "
        "point, and reply with the whole revised proposal in the same format."
    )


def reviewer_brief(request: DesignRequest, draft: ProposalDraft, round_: int) -> str:
    parents = "\n".join(
        f"- `{p.id}` ({p.design.name}): {p.design.description or 'no description'}"
        for p in request.parents
    )
    unit = f" It changes unit `{draft.unit}`." if draft.unit else ""
    return (
        f"# A {request.kind} proposal to review (draft {round_})\n\n"
        f"Parents:\n{parents or '- none (a design from scratch)'}\n\n"
        f"{siblings_section(request.siblings)}\n\n{unit}\n\n---\n\n{draft.text}\n"
    )


def planner_brief(request: DesignRequest, draft: ProposalDraft) -> str:
    parents = "\n\n".join(
        f"## Parent `{p.id}` ({p.design.name})\n\n{design_section(p.design, with_code=False)}"
        for p in request.parents
    )
    chosen = (
        f"\n\nThis is a mutation of `{request.parents[0].id}`: write exactly the unit "
        f"`{draft.unit}`, nothing else."
        if draft.unit
        else ""
    )
    return (
        f"# Plan the implementation of this {request.kind}\n\n{draft.text}\n\n"
        f"# The parents' unit trees\n\n{parents or 'None: a design from scratch.'}{chosen}\n"
    )


def coder_brief(task: UnitTask, draft: ProposalDraft, assembly: Assembly) -> str:
    children = (
        "\n".join(
            f"- slot `{slot}` gets unit `{uid}` ({_describe(assembly, uid)})"
            for slot, uid in task.children.items()
        )
        or "- none: this unit has no child slots"
    )
    old = ""
    if task.replaces and task.id in assembly.draft.units:
        node = assembly.draft.units[task.id]
        old = (
            f"\n\nIt replaces `{task.id}`, currently `{node['class']}` in `{node['file']}`:\n\n"
            f"```python\n{assembly.draft.sources[node['file']].rstrip()}\n```"
        )
    return (
        f"# Write unit `{task.id}`: class `{task.cls}`, role `{task.role}`\n\n"
        f"Specification: {task.spec}\n\nChildren (declare exactly these slots):\n{children}\n\n"
        f"Arguments the design sets: {dict(task.args) or 'none (declare what you need)'}"
        f"{old}\n\n# The proposal\n\n{strip_json_tail(draft.text)}\n"
    )


def retry_brief(report_text: str, feedback: str) -> str:
    return (
        f"The unit was sent back.\n\n## Checker report\n\n{report_text}\n\n"
        f"## Observer\n\n{feedback or '(no further remarks)'}\n\n"
        "Fix the unit and reply with the whole corrected file in one ```python block."
    )


def observer_brief(task: UnitTask, code: str, ok: bool, report_text: str) -> str:
    verdict = "passed" if ok else "rejected the design"
    return (
        f"# Review unit `{task.id}` (class `{task.cls}`, role `{task.role}`)\n\n"
        f"Specification: {task.spec}\n\n```python\n{code.rstrip()}\n```\n\n"
        f"# The checker {verdict}\n\n{report_text}\n"
    )


def _describe(assembly: Assembly, uid: str) -> str:
    task = next((t for t in assembly.tasks if t.id == uid), None)
    if task is not None:
        return f"{task.cls}, written in this design"
    node: Mapping[str, object] = assembly.draft.units.get(uid, {})
    return f"{node.get('class')}, role {node.get('role')}"
