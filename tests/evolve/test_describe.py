"""Every child describes itself: its description says what changed and the tree it has, never
its parent's words; a proposal's lines keep their structure in the commit and in show."""

from __future__ import annotations

from pathlib import Path

import pytest

from genesys_tui.agents.session import _rationale
from genesys_tui.cli.show import format_repo_design
from genesys_tui.describe import child_description, describe_child, tree_summary
from genesys_tui.design import load_design
from genesys_tui.designer import DesignRequest, Parent, Proposal
from genesys_tui.evolve.offline import OfflineDesigner
from genesys_tui.evolve.pool import UnitPool
from genesys_tui.store.repo import DesignsRepo

GPT, MAMBA2 = load_design("gpt"), load_design("mamba2")


@pytest.fixture(scope="module")
def designer() -> OfflineDesigner:
    return OfflineDesigner(UnitPool.library())


def _children(designer: OfflineDesigner, kind: str, parents: tuple[Parent, ...]) -> list:
    outs = [designer.design(DesignRequest(kind, parents, seed=s)) for s in range(6)]
    assert all(isinstance(o, Proposal) for o in outs)
    return outs


def test_a_mutation_describes_what_changed_not_its_parents_text(designer) -> None:
    for out in _children(designer, "mutation", (Parent("gpt-1", GPT),)):
        d = out.design.description
        assert d != GPT.description and "Pre-norm transformer" not in d
        assert d.startswith(out.title.rstrip(".")) and tree_summary(out.design) in d
    norm_swaps = [
        o
        for o in _children(designer, "mutation", (Parent("gpt-1", GPT),))
        if "LayerNorm" in o.title
    ]
    assert norm_swaps and all("LayerNorm" in o.design.description for o in norm_swaps)


def test_a_crossover_describes_both_parents_parts_as_the_child_has_them(designer) -> None:
    parents = (Parent("gpt-1", GPT), Parent("mamba2-2", MAMBA2))
    for out in _children(designer, "crossover", parents):
        d = out.design.description
        assert d not in (GPT.description, MAMBA2.description)
        classes = {n.cls for n in out.design.units.values()}
        assert all(cls in d for cls in classes)


def test_a_design_from_scratch_gets_a_description(designer) -> None:
    for out in _children(designer, "scratch", ()):
        assert out.design.description.startswith("scratch: ")


def test_describe_child_keeps_a_description_the_designer_wrote_itself() -> None:
    import dataclasses

    own = dataclasses.replace(GPT, description="GPT with a wider MLP, written by the model")
    assert describe_child(own, "widen mlp", [GPT]).description == own.description
    inherited = describe_child(GPT, "widen mlp", [GPT]).description
    assert inherited == child_description(GPT, "widen mlp")
    assert inherited.startswith("widen mlp. Units: PreNormBlock(norm1 RMSNorm, mixer ")


PROPOSAL = """# Gate the MLP

## Why it might help

Two reasons:

- a gate lets each position   scale its update
- it costs few parameters
  - one projection

## Risks

none
"""


def test_the_proposal_keeps_its_lines_in_the_commit_and_in_show(tmp_path: Path) -> None:
    summary = _rationale(PROPOSAL)
    assert summary.splitlines() == [
        "Two reasons:",
        "",
        "- a gate lets each position scale its update",
        "- it costs few parameters",
        "  - one projection",
    ]
    with DesignsRepo.create(tmp_path / "ns", seeds=False) as repo:
        files = {"design.json": GPT.to_json(), **GPT.sources, "proposal.md": PROPOSAL}
        record = repo.commit_design(files, parents=[], designer="t", title="Gate", summary=summary)
        assert repo.summary(record.id) == summary
        shown = format_repo_design(repo, record.id).splitlines()
    assert "- a gate lets each position scale its update" in shown
    assert "- it costs few parameters" in shown
