"""What the agents are shown: the parents (code, tree, proposal), their earlier children (so no
one repeats them), the reference library and past proposals (local full-text search with
sqlite3's FTS5), and, only when the network and a key are present, papers.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import sqlite3
import threading
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

from genesys_tui.design import Design, load_design
from genesys_tui.designer import DesignRequest
from genesys_tui.resources import library_designs

PROPOSAL_CHARS = 4000  # of each parent's proposal shown to the agents
S2_KEY_ENVS = ("SEMANTIC_SCHOLAR_API_KEY", "S2_API_KEY")
ARXIV_ENV = "GENESYS_ARXIV"  # set to 1 to let the proposer search arXiv (it needs no key)


@dataclass(frozen=True)
class Hit:
    source: str  # "library", "design", "arxiv", "semantic-scholar"
    name: str
    title: str
    snippet: str

    def format(self) -> str:
        return f"- [{self.source}] **{self.name}**: {self.title}\n  {self.snippet}"


class ReferenceIndex:
    """Full-text search over design documents (sqlite3 FTS5, in memory, thread-safe)."""

    def __init__(self) -> None:
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._db.execute(
            "CREATE VIRTUAL TABLE docs USING fts5(source, name, title, body, tokenize='porter')"
        )
        self._lock = threading.Lock()
        self.names: set[str] = set()

    @classmethod
    def library(cls) -> ReferenceIndex:
        """An index of every design in the reference library."""
        index = cls()
        for path in library_designs():
            design = load_design(path)
            proposal = path / "proposal.md"
            text = proposal.read_text(encoding="utf-8") if proposal.is_file() else ""
            index.add_design(design, text, source="library")
        return index

    def add(self, source: str, name: str, title: str, body: str) -> None:
        with self._lock:
            self._db.execute("INSERT INTO docs VALUES (?, ?, ?, ?)", (source, name, title, body))
            self.names.add(name)

    def add_design(self, design: Design, proposal: str, source: str = "design") -> None:
        """Index a design: its description, proposal and the docstrings of its units."""
        if design.name in self.names:
            return
        docs = [_docstring(text) for text in design.sources.values()]
        title = design.description or _first_heading(proposal) or design.name
        self.add(source, design.name, title, "\n".join([proposal, *docs]))

    def search(self, query: str, k: int = 5) -> list[Hit]:
        """The ``k`` best matches for the words of ``query`` (any of them), best first."""
        words = re.findall(r"[A-Za-z0-9]{2,}", query)[:16]
        if not words:
            return []
        match = " OR ".join(f'"{w}"' for w in words)
        with self._lock:
            rows = self._db.execute(
                "SELECT source, name, title, snippet(docs, 3, '**', '**', ' ... ', 24) "
                "FROM docs WHERE docs MATCH ? ORDER BY rank LIMIT ?",
                (match, k),
            ).fetchall()
        return [Hit(*row) for row in rows]


def _docstring(source: str) -> str:
    match = re.match(r'\s*(?:"""|\'\'\')(.*?)(?:"""|\'\'\')', source, re.DOTALL)
    return match.group(1).strip() if match else ""


def _first_heading(text: str) -> str:
    match = re.search(r"^#\s+(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else ""


class PaperSearch:
    """arXiv and Semantic Scholar search over plain HTTP (stdlib only), short timeouts."""

    def __init__(
        self,
        s2_key: str | None = None,
        arxiv: bool = False,
        s2_url: str = "https://api.semanticscholar.org/graph/v1/paper/search",
        arxiv_url: str = "https://export.arxiv.org/api/query",
        timeout_s: float = 10.0,
    ) -> None:
        self.s2_key, self.arxiv = s2_key, arxiv
        self.s2_url, self.arxiv_url, self.timeout_s = s2_url, arxiv_url, timeout_s

    @classmethod
    def from_environment(cls) -> PaperSearch | None:
        """A searcher when a key (or the arXiv opt-in) is set and the network answers."""
        key = next((os.environ[e] for e in S2_KEY_ENVS if os.environ.get(e)), None)
        arxiv = os.environ.get(ARXIV_ENV) == "1"
        hosts = (["api.semanticscholar.org"] if key else []) + (
            ["export.arxiv.org"] if arxiv else []
        )
        if not hosts or not all(_reachable(h) for h in hosts):
            return None
        return cls(key, arxiv)

    def search(self, query: str, k: int = 3) -> list[Hit]:
        """Papers matching ``query``; a source that fails is skipped (search is optional)."""
        hits: list[Hit] = []
        if self.s2_key:
            with contextlib.suppress(OSError, ValueError):
                hits += self._s2(query, k)
        if self.arxiv:
            with contextlib.suppress(OSError, ValueError, ET.ParseError):
                hits += self._arxiv(query, k)
        return hits

    def _s2(self, query: str, k: int) -> list[Hit]:
        params = urllib.parse.urlencode(
            {"query": query, "limit": k, "fields": "title,year,abstract"}
        )
        req = urllib.request.Request(
            f"{self.s2_url}?{params}", headers={"x-api-key": self.s2_key or ""}
        )
        with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
            data = json.load(resp)
        return [
            Hit(
                "semantic-scholar",
                f"{p.get('title', '')} ({p.get('year', '')})".strip(),
                p.get("title", ""),
                (p.get("abstract") or "")[:400],
            )
            for p in data.get("data", [])[:k]
        ]

    def _arxiv(self, query: str, k: int) -> list[Hit]:
        params = urllib.parse.urlencode({"search_query": f"all:{query}", "max_results": k})
        with urllib.request.urlopen(f"{self.arxiv_url}?{params}", timeout=self.timeout_s) as resp:
            root = ET.fromstring(resp.read())
        ns = {"a": "http://www.w3.org/2005/Atom"}
        hits = []
        for entry in root.findall("a:entry", ns)[:k]:
            title = " ".join((entry.findtext("a:title", "", ns) or "").split())
            summary = " ".join((entry.findtext("a:summary", "", ns) or "").split())
            ident = (entry.findtext("a:id", "", ns) or "").rsplit("/", 1)[-1]
            hits.append(Hit("arxiv", f"arXiv {ident}", title, summary[:400]))
        return hits


def _reachable(host: str, port: int = 443, timeout_s: float = 2.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------
# Sections of the agents' prompts


def design_section(design: Design, with_code: bool = True) -> str:
    """A design's tree (design.json) and, with ``with_code``, every unit file."""
    parts = [f"design.json:\n\n```json\n{design.to_json().rstrip()}\n```"]
    if with_code:
        for rel, text in sorted(design.sources.items()):
            parts.append(f"`{rel}`:\n\n```python\n{text.rstrip()}\n```")
    return "\n\n".join(parts)


def parents_section(request: DesignRequest) -> str:
    if not request.parents:
        return "There are no parents: this is a design from scratch."
    out = []
    for p in request.parents:
        fitness = f"{p.fitness:.4f}" if p.fitness is not None else "not measured yet"
        proposal = p.proposal.strip()[:PROPOSAL_CHARS] or "(no proposal recorded)"
        out.append(
            f"## Parent `{p.id}` ({p.design.name}), fitness {fitness}\n\n"
            f"Its proposal:\n\n{proposal}\n\n{design_section(p.design)}"
        )
    return "\n\n".join(out)


def siblings_section(siblings: Sequence[Design]) -> str:
    if not siblings:
        return "No earlier children of these parents yet."
    lines = ["Earlier children of the same parents (do not repeat them):", ""]
    for s in siblings:
        units = ", ".join(f"{n.id}={n.cls}" for n in s.units.values())
        lines.append(f"- {s.name}: {s.description or '(no description)'}; units: {units}")
    return "\n".join(lines)


def references_section(hits: Sequence[Hit]) -> str:
    if not hits:
        return "No matches."
    return "\n".join(h.format() for h in hits)
