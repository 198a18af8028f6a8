"""Reference search, paper search, generated instructions, and the paper's statistics."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from genesys_tui.agents.context import PaperSearch, ReferenceIndex
from genesys_tui.agents.instructions import load_prompt, system_prompt, unit_format
from genesys_tui.agents.settings import ROLE_NAMES
from genesys_tui.agents.stats import DesignStats, by_designer, collect, summarize
from genesys_tui.design import ROLES
from genesys_tui.resources import library_dir
from genesys_tui.store.library import import_library
from genesys_tui.store.repo import DesignsRepo


@pytest.mark.parametrize(
    ("query", "first"),
    [("retention decay chunkwise", "retnet"), ("state space selective scan SSD", "mamba2")],
    ids=["retention", "ssm"],
)
def test_reference_search_finds_the_library_design(query: str, first: str) -> None:
    hits = ReferenceIndex.library().search(query)
    assert hits and hits[0].name == first and hits[0].source == "library"


def test_past_proposals_become_searchable(gpt_parent) -> None:
    index = ReferenceIndex()
    index.add_design(gpt_parent.design, "# Zebra gating\n\nA striped gate over channels.")
    assert [h.name for h in index.search("zebra stripes")] == ["gpt"]
    assert index.search("!!! ()") == []  # no words, no query syntax errors


ATOM = """<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><entry>
<id>http://arxiv.org/abs/2307.08621v1</id><title>Retentive Network</title>
<summary>A successor to Transformer.</summary></entry></feed>"""


def test_paper_search_reads_semantic_scholar_and_arxiv() -> None:
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            seen.append(self.headers.get("x-api-key", ""))
            s2 = self.path.startswith("/s2")
            body = json.dumps(
                {"data": [{"title": "RetNet", "year": 2023, "abstract": "Retention."}]}
            )
            data = (body if s2 else ATOM).encode()
            self.send_response(200)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    ).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        hits = PaperSearch("s2-key-123", True, f"{url}/s2", f"{url}/arxiv").search("retention")
    finally:
        server.shutdown()
        server.server_close()
    assert [(h.source, h.title) for h in hits] == [
        ("semantic-scholar", "RetNet"),
        ("arxiv", "Retentive Network"),
    ]
    assert seen[0] == "s2-key-123" and hits[1].name == "arXiv 2307.08621v1"


def test_paper_search_is_off_without_a_key() -> None:
    assert PaperSearch.from_environment() is None


def test_the_unit_format_is_generated_from_the_contract() -> None:
    text = unit_format()
    base = (Path(__file__).parents[2] / "genesys_tui" / "units" / "contract.py").read_text()
    assert "forward(X, **Z) -> (Y, Z)" in text and "context_length: int" in text
    assert all(f"`{role}`" in text for role in ROLES)
    assert (library_dir() / "gpt" / "units" / "mlp.py").read_text().strip() in text
    assert "`torch`" in text and "`os`" not in text
    assert "out_proj" in base and "out_proj" in text


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_every_role_has_a_prompt_with_nothing_left_unfilled(role: str) -> None:
    assert load_prompt(role)
    text = system_prompt(role, threshold=4, max_searches=2)
    assert text.startswith(f"Genesys agent role: {role}\n")
    assert not re.search(r"\$[a-z_]+", text)


def _stats(designer: str, valid: bool, attempts: int, usd: float, loc: int) -> DesignStats:
    return DesignStats("d", designer, "mutation", valid, attempts, usd, loc, "accepted")


def test_summary_of_sessions() -> None:
    rows = [
        _stats("a", True, 2, 0.5, 30),
        _stats("a", False, 5, 1.5, 90),
        _stats("b", True, 1, 0.0, 10),
    ]
    a = summarize(rows[:2], "a")
    assert (a.designs, a.valid, a.valid_rate, a.attempts_per_design) == (2, 1, 0.5, 3.5)
    assert (a.cost_per_design_usd, a.loc_per_design, a.cost_total_usd) == (1.0, 30.0, 2.0)
    assert [r.designer for r in by_designer(rows)] == ["a", "b", "all"]


def test_genesys_stats_reads_a_designs_repository(tmp_path: Path) -> None:
    from genesys_tui.agents.dialogue import Transcript

    path = tmp_path / "run"
    with DesignsRepo.create(path, seeds=False) as repo:
        import_library(repo, [library_dir() / "gpt"])
        gpt = {k: v for k, v in repo.read_design_files("gpt-1").items() if k != "proposal.md"}
        for valid, attempts, usd in ((True, 2, 0.25), (False, 3, 0.75)):
            log = Transcript()
            log.summary(
                {
                    "kind": "mutation",
                    "valid": valid,
                    "attempts": attempts,
                    "cost_usd": usd,
                    "loc_written": 20,
                    "stop": "accepted" if valid else "attempts",
                    "defaulted_prices": [] if valid else ["anthropic:claude-next"],
                }
            )
            files = {**gpt, "dialogue.jsonl": log.to_jsonl()}
            if valid:
                repo.commit_design(files, parents=["gpt-1"], designer="m", title="t", cost_usd=usd)
            else:
                repo.commit_design(
                    files,
                    parents=["gpt-1"],
                    designer="m",
                    title="t",
                    cost_usd=usd,
                    status="failed",
                    reason="attempts",
                )
        (row,) = by_designer(collect(repo))
    assert (row.designs, row.valid, row.attempts_per_design, row.cost_total_usd) == (2, 1, 2.5, 1.0)
    out = subprocess.run(
        [sys.executable, "-m", "genesys_tui", "stats", "--repo", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert re.search(r"^m\s+2\s+50%\s+2\.50\s+0\.5000\s+20\.0\s+1\.0000$", out, re.MULTILINE), out
    assert "accepted 1, attempts 1" in out
    # a cost charged at a default price is flagged, not only inside the dialogue
    assert row.defaulted_prices == ["anthropic:claude-next"]
    assert "price defaulted for anthropic:claude-next" in out
