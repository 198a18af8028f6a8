"""The designer interface: given parents and context, return a child design or a failure.

Every designer (the offline mutator, the LLM agents) implements ``Designer.design``. A request
names the kind of design wanted (a mutation of one parent, a crossover of two or more, or a
design from scratch); the answer is a ``Proposal`` (a validated design plus the files that
explain it) or a ``DesignFailure`` with a reason, which the loop commits too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from genesys_tui.design import Design

Kind = Literal["mutation", "crossover", "scratch"]


@dataclass(frozen=True)
class Parent:
    """A parent design as the designer sees it."""

    id: str  # the design's id in the designs repository
    design: Design
    proposal: str = ""  # its proposal.md
    fitness: float | None = None


@dataclass(frozen=True)
class DesignRequest:
    kind: Kind
    parents: tuple[Parent, ...]  # one for a mutation, two or more for a crossover, none: scratch
    seed: int  # everything random in the designer derives from this
    siblings: tuple[Design, ...] = ()  # earlier children of the same parents, to avoid repeats


@dataclass(frozen=True)
class Proposal:
    """A child design and the files that explain it (``proposal.md``, ``review.md``, ...)."""

    design: Design
    title: str  # one line, for the commit message and the dashboard
    rationale: str  # a short paragraph: what changed and why it might help
    files: Mapping[str, str] = field(default_factory=dict)  # extra files: proposal.md, ...
    cost_usd: float = 0.0
    attempts: int = 1
    stats: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DesignFailure:
    """The designer could not produce a design; ``files`` keeps what it made on the way."""

    reason: str
    files: Mapping[str, str] = field(default_factory=dict)
    cost_usd: float = 0.0
    attempts: int = 1


#: Called by designers with (role, text) as they work: agent dialogue, or a rationale.
DialogueSink = Callable[[str, str], None]


class Designer(Protocol):
    name: str  # who gets credit as the commit's author ("offline-mutator", "claude-...")

    def design(
        self, request: DesignRequest, say: DialogueSink | None = None
    ) -> Proposal | DesignFailure: ...
