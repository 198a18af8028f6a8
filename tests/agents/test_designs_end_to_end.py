"""A scripted fake model drives complete designs through the real SDKs, the real checker and
the designs store: a mutation over Anthropic's API (after a 429), a coder that fixes its unit
from the checker's findings, and a crossover over an OpenAI-compatible server. The API keys
must never be written anywhere: not in the files, the dialogue events, the logs or the git
objects of the designs repository."""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path

import pytest

from genesys_tui.agents.factory import make_llm_designer
from genesys_tui.agents.settings import AgentsConfig
from genesys_tui.agents.stats import by_designer, collect
from genesys_tui.checker import CheckConfig
from genesys_tui.designer import DesignRequest, Parent, Proposal
from genesys_tui.resources import library_dir
from genesys_tui.store.library import import_library
from genesys_tui.store.repo import DesignsRepo
from tests.agents import scripts as S
from tests.agents.conftest import ANTHROPIC_KEY, KEYS, LOCAL_KEY
from tests.agents.fake_llm import Fail, FakeLLM

# The runtime stages run in a child process (seconds each); the timing stage is skipped
# because the machine running the tests is shared.
CHECK = CheckConfig(skip=("speed",))


def _repo(path: Path) -> DesignsRepo:
    repo = DesignsRepo.create(path, seeds=False)
    import_library(repo, [library_dir() / "gpt", library_dir() / "retnet"])
    return repo


def _commit(repo: DesignsRepo, out: Proposal, parents: list[str], designer: str) -> str:
    files = {"design.json": out.design.to_json(), **out.design.sources, **out.files}
    record = repo.commit_design(
        files,
        parents=parents,
        designer=designer,
        title=out.title,
        summary=out.rationale,
        cost_usd=out.cost_usd,
    )
    repo.attach(
        record.id,
        "check",
        {"ok": bool(out.stats["check_ok"]), "summary": out.stats["check_summary"]},
    )
    return record.id


def _designer(spec: str, url: str, **config: object):
    from genesys_tui.agents.designer import checker_verdict

    cfg = AgentsConfig(
        backoff_s=0.01, anthropic_base_url=url, openai_base_url=url + "/v1", **config
    )
    return make_llm_designer(spec, cfg, check=checker_verdict(config=CHECK))


@pytest.fixture(scope="module")
def mutation_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One mutation of gpt over the Anthropic SDK, committed; everything it wrote kept."""
    mp = pytest.MonkeyPatch()
    mp.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    mp.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
    root = tmp_path_factory.mktemp("mutation")
    # A careless model repeats the key it somehow saw: it must still be redacted everywhere.
    leaky = S.proposal().replace("## Risks", f"## Risks\n\nDebug: key={ANTHROPIC_KEY}\n")
    script = {
        "proposer": [Fail(429, headers={"retry-after": "0"}), leaky],
        "reviewer": [S.REVIEW_OK],
        "planner": [S.MUTATION_PLAN],
        "coder": [S.code(S.SWIGLU_BAD), S.code(S.SWIGLU)],
        "observer": [S.REVISE, S.ACCEPT],
    }
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append  # type: ignore[method-assign]
    sdk_loggers = [logging.getLogger(n) for n in ("anthropic", "openai", "httpx2", "genesys_tui")]
    for lg in sdk_loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    said: list[tuple[str, str]] = []
    try:
        with FakeLLM(script) as fake:
            designer = _designer("anthropic:claude-sonnet-4-6", fake.url)
            gpt = Parent("gpt-1", designer_parent("gpt"), "# GPT")
            out = designer.design(
                DesignRequest("mutation", (gpt,), seed=7), lambda r, t: said.append((r, t))
            )
            requests = list(fake.requests)
            left = fake.remaining()
        repo = _repo(root / "designs")
        assert isinstance(out, Proposal), getattr(out, "reason", out)
        child = _commit(repo, out, ["gpt-1"], designer.name)
        stats = by_designer(collect(repo))
        repo.close()
    finally:
        for lg in sdk_loggers:
            lg.removeHandler(handler)
            lg.setLevel(logging.NOTSET)
        mp.undo()
    logs = [r.getMessage() for r in records]
    return {
        "out": out,
        "said": said,
        "requests": requests,
        "left": left,
        "root": root,
        "child": child,
        "stats": stats,
        "logs": logs,
        "designer": designer,
    }


def designer_parent(name: str):
    from genesys_tui.design import load_design

    return load_design(name)


def test_mutation_changes_only_the_chosen_unit_and_commits_a_checked_design(mutation_run):
    out: Proposal = mutation_run["out"]
    assert mutation_run["left"] == {}
    assert out.design.units["mlp"].cls == "SwiGLU"
    gpt = designer_parent("gpt")
    for uid in ("block", "attn", "attn_norm", "mlp_norm"):
        assert out.design.units[uid] == gpt.units[uid]
        rel = gpt.units[uid].file
        assert out.design.sources[rel] == gpt.sources[rel]
    assert {"proposal.md", "review.md", "dialogue.jsonl"} <= set(out.files)
    assert out.stats["check_ok"] is True and out.stats["stop"] == "accepted"
    # the child describes itself, not its parent: what changed, and the tree it has
    assert out.design.description != gpt.description and "GELU" not in out.design.description
    assert out.design.description.startswith("SwiGLU channel mixer.")
    assert "mlp SwiGLU" in out.design.description
    with DesignsRepo.open(mutation_run["root"] / "designs") as repo:
        record = repo.get(mutation_run["child"])
        assert record.status == "checked" and record.parents == ("gpt-1",)
        assert "units/swi_glu.py" in repo.read_design_files(record.id)


def test_a_429_is_retried_and_the_retry_is_said(mutation_run):
    roles = [r.role for r in mutation_run["requests"]]
    assert roles[:2] == ["proposer", "proposer"]
    assert any("retry 1/" in text for role, text in mutation_run["said"] if role == "proposer")


def test_the_coder_fixes_its_unit_from_the_checker_findings(mutation_run):
    coder = [r for r in mutation_run["requests"] if r.role == "coder"]
    assert len(coder) == 2
    second = coder[1].body["messages"][-1]["content"]
    assert "banned_import" in second or "import os" in second  # the finding, verbatim
    assert "remove import os" in second  # and the observer's advice
    assert mutation_run["out"].attempts == 2


def test_replies_stream_as_dialogue_events(mutation_run):
    roles = {role for role, _ in mutation_run["said"]}
    assert {"proposer", "reviewer", "planner", "coder", "observer", "checker"} <= roles
    proposer = "".join(t for r, t in mutation_run["said"] if r == "proposer")
    assert "## Motivation" in proposer


def test_statistics_of_the_run(mutation_run):
    (row,) = mutation_run["stats"]
    assert (row.designs, row.valid, row.attempts_per_design) == (1, 1, 2.0)
    assert row.cost_per_design_usd > 0 and row.loc_per_design == 15


def _git_texts(root: Path) -> list[str]:
    """Every file under ``root`` and every git object's content (loose or packed)."""
    texts = [
        p.read_bytes().decode("utf-8", "replace")
        for p in root.rglob("*")
        if p.is_file() and "/objects/" not in p.as_posix()
    ]
    for git_dir in root.rglob(".git"):
        objects = subprocess.run(
            ["git", "--git-dir", str(git_dir), "cat-file", "--batch-all-objects", "--batch"],
            capture_output=True,
            check=True,
        ).stdout
        assert objects, "the repository holds no objects: the scan would prove nothing"
        texts.append(objects.decode("utf-8", "replace"))
    return texts


def test_the_api_key_is_never_written_anywhere(mutation_run):
    sent = [
        r.headers.get("x-api-key", "") + r.headers.get("authorization", "")
        for r in mutation_run["requests"]
    ]
    assert all(ANTHROPIC_KEY in s for s in sent)  # it did reach the server
    places = {
        "files": list(mutation_run["out"].files.values()),
        "events": [t for _, t in mutation_run["said"]],
        "logs": mutation_run["logs"],
        "repository": _git_texts(mutation_run["root"]),
        "stats": [json.dumps(mutation_run["out"].stats)],
    }
    for where, texts in places.items():
        for key in KEYS:
            assert not any(key in t for t in texts), f"a key leaked into the {where}"
    assert "[redacted]" in mutation_run["out"].files["proposal.md"]


def test_crossover_over_an_openai_compatible_server(tmp_path: Path):
    script = {
        "proposer": [S.crossover_proposal()],
        "reviewer": [S.REVIEW_OK],
        "planner": [S.CROSSOVER_PLAN],
        "coder": [S.code(S.SCALED_NORM)],
        "observer": [S.ACCEPT],
    }
    with FakeLLM(script, usage=False) as fake:
        designer = _designer(f"openai-compatible:{fake.url}/v1#qwen2.5-coder", fake.url)
        parents = (
            Parent("gpt-1", designer_parent("gpt"), "# GPT"),
            Parent("retnet-2", designer_parent("retnet"), "# RetNet"),
        )
        out = designer.design(DesignRequest("crossover", parents, seed=3))
        auth = {r.headers.get("authorization") for r in fake.requests}
    assert isinstance(out, Proposal), getattr(out, "reason", out)
    assert auth == {f"Bearer {LOCAL_KEY}"}
    design = out.design
    assert len(design.roots) == 2
    classes = {n.cls for n in design.units.values()}
    assert {"CausalSelfAttention", "MultiScaleRetention", "ScaledRMSNorm"} <= classes
    for cls in ("CausalSelfAttention", "MultiScaleRetention", "ScaledRMSNorm", " | "):
        assert cls in design.description  # both parents' blocks, as the child has them
    assert out.cost_usd == 0.0 and out.stats["input_tokens"] > 0  # local: free, still counted
    with _repo(tmp_path / "designs") as repo:
        child = _commit(repo, out, ["gpt-1", "retnet-2"], designer.name)
        record = repo.get(child)
        assert record.origin == "crossover" and record.status == "checked"
        assert len(repo.git("rev-list", "--parents", "-n", "1", record.commit).split()) == 3
