"""Reading the agents' replies. Each parser returns plain data or raises ReplyError with a
message written for the model: the session answers a malformed reply with it and asks again.

Formats (the prompts in ``prompts/`` describe them to the models): the proposer, reviewer and
observer end their Markdown with one fenced JSON block; the planner replies with a JSON plan;
the coder with one fenced ``python`` block holding the whole unit file.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from genesys_tui.design import ROLES, read_unit_declarations

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+.-]*)[ \t]*\r?\n(.*?)```", re.DOTALL)
NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")


class ReplyError(ValueError):
    """A reply the session cannot use; the message tells the model what to fix."""


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced code block in ``text``, in order."""
    return [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(text)]


def last_json(text: str) -> dict[str, Any]:
    """The last fenced block of ``text`` that holds a JSON object (or the whole reply, when it is
    bare JSON)."""
    candidates = [body for lang, body in fenced_blocks(text) if lang in ("json", "")]
    if not candidates and text.strip().startswith("{"):
        candidates = [text.strip()]
    if not candidates:
        raise ReplyError("the reply has no fenced ```json block; end it with one")
    try:
        data = json.loads(candidates[-1])
    except json.JSONDecodeError as exc:
        raise ReplyError(
            f"the last ```json block is not valid JSON: {exc.msg} at line {exc.lineno} "
            f"column {exc.colno}"
        ) from None
    if not isinstance(data, dict):
        raise ReplyError("the last ```json block must hold a JSON object {...}")
    return data


def _text_field(data: dict[str, Any], key: str, limit: int = 200) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ReplyError(f'the JSON block needs "{key}": a non-empty string')
    return value.strip()[:limit]


@dataclass(frozen=True)
class SearchRequest:
    query: str


@dataclass(frozen=True)
class ProposalDraft:
    text: str  # the Markdown proposal, JSON block included
    title: str
    name: str  # kebab-case design name
    unit: str | None  # the unit a mutation changes


def parse_proposal(text: str, kind: str, units: set[str]) -> ProposalDraft | SearchRequest:
    """A proposal (or a search request). ``units``: the parent's unit ids, for a mutation."""
    data = last_json(text)
    if "search" in data and "title" not in data:
        return SearchRequest(_text_field(data, "search"))
    title = _text_field(data, "title", 100)
    name = _text_field(data, "name", 60).lower()
    if not NAME.fullmatch(name):
        raise ReplyError(
            f'"name" {name!r} must be kebab-case: lower-case letters, digits and "-", '
            "at most 40 characters"
        )
    unit = data.get("unit")
    if kind == "mutation":
        if unit not in units:
            raise ReplyError(
                f'a mutation must name the one unit it changes in "unit"; got {unit!r}, '
                f"the parent's unit ids are {sorted(units)}"
            )
    else:
        unit = None
    if len(text.strip()) < 200:
        raise ReplyError(
            "the proposal is too short: write the Motivation, Design, Why it might help and "
            "Risks sections before the JSON block"
        )
    return ProposalDraft(text.strip(), title, name, unit)


@dataclass(frozen=True)
class Review:
    text: str
    rating: int  # 1..5
    summary: str


def parse_review(text: str) -> Review:
    data = last_json(text)
    rating = data.get("rating")
    if isinstance(rating, float) and rating.is_integer():
        rating = int(rating)
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise ReplyError(f'"rating" must be an integer from 1 to 5, got {rating!r}')
    summary = data.get("summary")
    return Review(text.strip(), rating, summary.strip() if isinstance(summary, str) else "")


@dataclass(frozen=True)
class Verdict:
    text: str
    accept: bool
    feedback: str


def parse_verdict(text: str) -> Verdict:
    data = last_json(text)
    verdict = data.get("verdict")
    if verdict not in ("accept", "revise"):
        raise ReplyError(f'"verdict" must be "accept" or "revise", got {verdict!r}')
    raw = data.get("feedback")
    feedback = raw if isinstance(raw, str) else ""
    if verdict == "revise" and not feedback.strip():
        raise ReplyError('a "revise" verdict needs "feedback": what the coder must change')
    return Verdict(text.strip(), verdict == "accept", feedback.strip())


def parse_unit_code(text: str, cls: str, role: str, slots: set[str], args: set[str]) -> str:
    """The unit file in the reply, checked against the plan's class, role, slots and args."""
    blocks = [body for lang, body in fenced_blocks(text) if lang in ("python", "py")]
    if not blocks:
        raise ReplyError("the reply has no ```python block; reply with the whole unit file in one")
    if len(blocks) > 1:
        raise ReplyError(
            f"the reply has {len(blocks)} ```python blocks; put the whole file in exactly one"
        )
    source = blocks[0].rstrip() + "\n"
    try:
        decls = read_unit_declarations(source, "unit.py")
    except SyntaxError as exc:
        raise ReplyError(f"the file does not parse: line {exc.lineno}: {exc.msg}") from None
    except ValueError as exc:
        raise ReplyError(f"a declaration is malformed: {exc}") from None
    if cls not in decls:
        found = sorted(decls) or "no class deriving from Unit"
        raise ReplyError(f"the plan asks for class {cls!r}; the file defines {found}")
    others = sorted(set(decls) - {cls})
    if others:
        raise ReplyError(f"define exactly one Unit class ({cls}); remove {others}")
    decl = decls[cls]
    if decl.role != role:
        raise ReplyError(f"{cls} must declare role = {role!r} (the plan's), not {decl.role!r}")
    if set(decl.slots) != slots:
        raise ReplyError(
            f"{cls} must declare exactly the slots the plan gives it children for, "
            f"{sorted(slots)}; it declares {sorted(decl.slots)}"
        )
    missing = sorted(args - set(decl.args))
    if missing:
        raise ReplyError(f"{cls} must declare the arguments the plan sets: {missing} (in args)")
    return source


def check_role(role: Any, where: str) -> str:
    if role not in ROLES:
        raise ReplyError(f"{where}: unknown role {role!r}; roles: {sorted(ROLES)}")
    return str(role)


def is_identifier(text: Any) -> bool:
    return isinstance(text, str) and text.isidentifier() and not text.startswith("_")


def strip_json_tail(text: str) -> str:
    """``text`` without its closing fenced JSON block (the machine-readable part)."""
    matches = list(_FENCE.finditer(text))
    if (
        matches
        and matches[-1].group(1).lower() in ("json", "")
        and not text[matches[-1].end() :].strip()
    ):
        return text[: matches[-1].start()].rstrip()
    return text.strip()
