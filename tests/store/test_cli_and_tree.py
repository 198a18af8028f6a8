"""``genesys log/show/diff/tree/index`` on a namespace with seeds, a mutation and a crossover."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from genesys_tui.cli import main
from genesys_tui.store.phylo import phylogeny
from genesys_tui.store.records import DesignRecord
from genesys_tui.store.repo import DesignsRepo
from tests.store.conftest import gpt_files, mutated


@pytest.fixture
def family(repo: DesignsRepo, monkeypatch: pytest.MonkeyPatch) -> DesignsRepo:
    """Seeds, a mutation of gpt-1 (verified) and a crossover of it with mamba2-2; the designs
    root is the test's folder, so commands find the namespace without options."""
    m = repo.commit_design(
        mutated(gpt_files(), 2),
        parents=["gpt-1"],
        designer="mutator",
        title="Halve the MLP",
        summary="Fewer parameters, same depth.",
    )
    repo.attach(m.id, "rung:cpu-xs", {"scores": {"bpb": 2.25}, "seconds": 3.0})
    repo.attach(m.id, "fitness", {"value": 0.42})
    repo.commit_design(
        mutated(gpt_files(), 3, n_heads=8) | {"proposal.md": "# Why\n\nMix.\n"},
        parents=[m.id, "mamba2-2"],
        designer="model-x",
        title="Cross",
    )
    repo.close()
    monkeypatch.setenv("GENESYS_DESIGNS_DIR", str(repo.path.parent))
    return repo


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_log_lists_newest_first_with_status_fitness_and_parents(
    family: DesignsRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = run(capsys, "log").splitlines()
    assert lines[0].startswith("gpt-7") and "<- gpt-6, mamba2-2" in lines[0]
    assert lines[1].startswith("gpt-6") and "verified" in lines[1] and "fit +0.4200" in lines[1]
    assert lines[-1].startswith("gpt-1") and "(seed)" in lines[-1]
    assert run(capsys, "log", "--status", "verified", "-n", "run").splitlines() == [lines[1]]


def test_log_graph_draws_the_merge_like_git(
    family: DesignsRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    out = run(capsys, "log", "--graph", "--repo", str(family.path))
    assert "|\\" in out
    ours = [line.lstrip("*|/\\ _").split()[0] for line in out.splitlines() if "*" in line]
    git_graph = subprocess.run(
        [
            "git",
            "-C",
            str(family.path),
            "log",
            "--graph",
            "--tags",
            "--topo-order",
            "--format=%(describe:tags)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert ours == [ln.split()[-1] for ln in git_graph.splitlines() if "*" in ln]


def test_show_prints_record_proposal_unit_tree_and_results(
    family: DesignsRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    out = run(capsys, "show", "7")
    assert "gpt-7  [proposed]  crossover of gpt-6 x mamba2-2" in out
    assert "proposal.md:" in out and "Mix." in out
    assert "mlp: mlp = MLP (channel_mixer) [units/mlp.py]  expand=3" in out
    out = run(capsys, "show", "gpt-6", "--namespace", "run")
    assert "Fewer parameters" in out and "rung:cpu-xs: scores={'bpb': 2.25}" in out
    assert "fitness terms" not in out  # a result without a score has no terms
    assert run(capsys, "show", "gpt").startswith("gpt: ")  # the library design, as before


def test_show_prints_the_fitness_terms_of_a_verified_design(
    repo: DesignsRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    from genesys_tui.verify.fitness import rung_score

    seed_score = rung_score(4.0, {})
    repo.attach("gpt-1", "rung:cpu-xs", {"scores": {"bpb": 4.0, "score": seed_score}})
    m = repo.commit_design(mutated(gpt_files(), 2), parents=["gpt-1"], designer="d", title="t")
    scores = {"bpb": 3.6, "score": rung_score(3.6, {})}
    repo.attach(m.id, "rung:cpu-xs", {"scores": scores})
    repo.close()  # the writer's index reaches the disk (as the family fixture does)
    out = run(capsys, "show", m.id, "--repo", str(repo.path))
    terms = out[out.index("fitness terms") :].splitlines()
    (bpb,) = [ln.split() for ln in terms if ln.split()[1:2] == ["bpb"]]
    assert bpb[:3] == ["cpu-xs", "bpb", "3.6000"] and bpb[-1] == "+0.0500"  # (4.0 - 3.6) / 8


def test_diff_shows_the_mutation_and_a_root_as_all_new(
    family: DesignsRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    out = run(capsys, "diff", "gpt-6")
    assert '"expand": 2' in out and out.count("diff --git") == 1
    out = run(capsys, "diff", "gpt-1", "--stat")
    assert "has no parent" in out and "units/mlp.py" in out
    assert "proposal.md | " in run(capsys, "diff", "gpt-7", "gpt-1", "--stat")


def test_tree_draws_the_phylogeny(family: DesignsRepo, capsys: pytest.CaptureFixture[str]) -> None:
    out = run(capsys, "tree")
    assert "gpt-1 [proposed] library" in out
    assert "└── gpt-6 [verified fitness=0.42] mutator: Halve the MLP" in out
    assert "    └── gpt-7 [proposed] model-x: Cross  x mamba2-2" in out
    assert "(also parent of gpt-7, shown under gpt-6)" in out
    assert run(capsys, "tree", "--from", "gpt-6").splitlines()[0].startswith("gpt-6")


def test_index_rebuild_and_status(family: DesignsRepo, capsys: pytest.CaptureFixture[str]) -> None:
    assert "7 designs" in run(capsys, "index", "rebuild")
    assert "1 verified" in run(capsys, "index", "status")


def test_commands_say_which_namespaces_exist_when_ambiguous(
    family: DesignsRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    DesignsRepo.create(family.path.parent / "other", seeds=False).close()
    assert main(["log"]) == 2
    assert "found: other, run" in capsys.readouterr().err


def rec(seq: int, *parents: str) -> DesignRecord:
    return DesignRecord(
        id=f"d-{seq}",
        seq=seq,
        commit=f"{seq:040x}",
        parents=parents,
        name="d",
        designer="t",
        origin="seed",
        status="proposed",
        title=f"t{seq}",
        created=0,
        updated=0.0,
    )


def test_phylogeny_of_a_deep_lineage_needs_no_recursion() -> None:
    chain = [rec(1)] + [rec(i, f"d-{i - 1}") for i in range(2, 3001)]
    text = phylogeny(chain, label=lambda r: r.id)
    assert text.splitlines()[-1].strip() == "└── d-3000"
    assert (
        phylogeny(chain, max_depth=1, label=lambda r: r.id)
        .splitlines()[-1]
        .endswith("... 2998 more below")
    )


def test_store_never_imports_torch_or_textual() -> None:
    code = (
        "import sys, genesys_tui.store.repo, genesys_tui.store.phylo, genesys_tui.cli.log, "
        "genesys_tui.cli.tree, genesys_tui.cli.index, genesys_tui.cli.diff; "
        "bad = [m for m in ('torch', 'textual') if m in sys.modules]; print(bad)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    ).stdout
    assert out.strip() == "[]"
