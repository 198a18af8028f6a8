"""The designs repository: one commit per design, parents as commit parents, tags, fsck-clean."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from genesys_tui.errors import DesignError, StoreError
from genesys_tui.resources import library_designs
from genesys_tui.store.repo import DesignsRepo, slug
from tests.store.conftest import gpt_files, mutated


def git(path: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(path), *args], capture_output=True, text=True, check=True
    ).stdout


def test_new_namespace_imports_every_library_design_as_a_root_commit(repo: DesignsRepo) -> None:
    records = repo.records()
    assert [r.name for r in records] == [p.name for p in library_designs()]
    for r in records:
        assert r.origin == "seed" and r.parents == () and r.designer == "library"
        assert git(repo.path, "rev-list", "--parents", "-n1", r.id).split() == [r.commit]
        assert git(repo.path, "rev-parse", f"refs/tags/{r.id}").strip() == r.commit


def test_commit_tree_is_the_design_directory(repo: DesignsRepo) -> None:
    files = mutated(gpt_files(), expand=3)
    child = repo.commit_design(
        files, parents=["gpt-1"], designer="offline-mutator", title="Narrower MLP"
    )
    stored = repo.read_design_files(child.id)
    # design.json is stored in its one canonical form: the same data, maybe other spacing.
    assert json.loads(stored.pop("design.json")) == json.loads(files.pop("design.json"))
    assert stored == files
    assert sorted(git(repo.path, "ls-tree", "-r", "--name-only", child.id).split()) == sorted(
        [*files, "design.json"]
    )
    assert repo.read_design(child.id).units["mlp"].args["expand"] == 3


def test_mutation_diff_against_its_parent_shows_only_the_change(repo: DesignsRepo) -> None:
    child = repo.commit_design(
        mutated(gpt_files(), expand=2),
        parents=["gpt-1"],
        designer="offline-mutator",
        title="Halve the MLP",
    )
    assert git(repo.path, "rev-list", "--parents", "-n1", child.id).split()[1:] == [
        repo.get("gpt-1").commit
    ]
    diff = repo.diff(child.id)
    assert '-      "args": {"expand": 4}' not in diff  # git's own diff of the files
    assert "+" in diff and '"expand": 2' in diff
    assert repo.diff(child.id, None, "--stat").strip().startswith("design.json")
    assert diff == git(repo.path, "diff", "gpt-1", child.id)


def test_crossover_is_a_merge_commit_whose_diffs_follow_each_parent(repo: DesignsRepo) -> None:
    wide = repo.commit_design(
        mutated(gpt_files(), expand=8),
        parents=["gpt-1"],
        designer="offline-mutator",
        title="Wider MLP",
    )
    heads = repo.commit_design(
        mutated(gpt_files(), expand=4, n_heads=8),
        parents=["gpt-1"],
        designer="offline-mutator",
        title="More heads",
    )
    both = mutated(gpt_files(), expand=8, n_heads=8)
    cross = repo.commit_design(
        both, parents=[wide.id, heads.id], designer="model-x", title="Wide MLP with more heads"
    )
    assert cross.origin == "crossover" and cross.parents == (wide.id, heads.id)
    parents = git(repo.path, "rev-list", "--parents", "-n1", cross.id).split()[1:]
    assert parents == [wide.commit, heads.commit]
    diff = repo.diff(cross.id)
    against_wide, against_heads = diff.split(f"# {cross.id} against its parent {heads.id}\n")
    assert '"n_heads": 8' in against_wide and '"expand": 8' not in against_wide.replace(
        '+      "args": {\n', ""
    )
    assert "+" in against_heads and '"expand": 8' in against_heads
    assert repo.diff(cross.id, wide.id) == git(repo.path, "diff", wide.id, cross.id)


def test_git_log_graph_all_shows_the_family_and_fsck_is_clean(repo: DesignsRepo) -> None:
    m = repo.commit_design(
        mutated(gpt_files()), parents=["gpt-1"], designer="offline-mutator", title="Mutation"
    )
    x = repo.commit_design(
        mutated(gpt_files(), 3), parents=[m.id, "mamba2-2"], designer="model-x", title="Crossover"
    )
    repo.attach(x.id, "check", {"ok": True, "summary": "passed"})
    repo.close()
    graph = git(repo.path, "log", "--graph", "--all", "--format=%s %d")
    for r in repo.records():
        assert f"tag: {r.id}" in graph
    assert "|\\" in graph  # the merge commit's two parent lines
    fsck = subprocess.run(
        ["git", "-C", str(repo.path), "fsck", "--strict", "--no-dangling"],
        capture_output=True,
        text=True,
    )
    assert fsck.returncode == 0 and fsck.stdout == "", fsck.stdout + fsck.stderr
    assert git(repo.path, "status", "--porcelain") == ""  # the work tree shows the latest design
    assert git(repo.path, "rev-parse", "HEAD").strip() == x.commit


def test_failed_design_is_committed_with_its_reason(repo: DesignsRepo) -> None:
    broken = {"design.json": "{ not json", "units/odd.py": "class Odd:\n    pass\n"}
    rec = repo.commit_design(
        broken,
        parents=["gpt-1"],
        designer="model-x",
        title="Broken",
        status="rejected",
        reason="design.json does not parse",
    )
    assert rec.status == "rejected" and "does not parse" in rec.reason
    assert repo.read_design_files(rec.id) == broken
    assert repo.results(rec.id)["failure"]["stage"] == "check"
    with pytest.raises(DesignError):
        repo.read_design(rec.id)


def test_a_proposed_design_that_does_not_load_is_refused(repo: DesignsRepo) -> None:
    files = mutated(gpt_files(), expand=99)  # above the declared maximum of 16
    with pytest.raises(DesignError, match="expand"):
        repo.commit_design(files, parents=["gpt-1"], designer="x", title="Too wide")
    assert len(repo.records()) == len(library_designs())


@pytest.mark.parametrize("status", ["rejected", "failed"], ids=["rejected", "failed"])
def test_a_failed_status_needs_a_reason(repo: DesignsRepo, status: str) -> None:
    with pytest.raises(StoreError, match="reason"):
        repo.commit_design(gpt_files(), designer="x", title="t", status=status)


@pytest.mark.parametrize(
    ("parents", "origin"),
    [([], "seed"), (["gpt-1"], "scratch"), (["gpt-1", "gpt-1"], None)],
    ids=["seed-with-no-parent-ok", "scratch-with-a-parent", "same-parent-twice"],
)
def test_origin_must_fit_the_parents(
    repo: DesignsRepo, parents: list[str], origin: str | None
) -> None:
    if origin == "seed":
        assert repo.commit_design(gpt_files(), designer="x", title="t", origin="seed").parents == ()
        return
    with pytest.raises(StoreError):
        repo.commit_design(gpt_files(), parents=parents, designer="x", title="t", origin=origin)


@pytest.mark.parametrize("how", ["id", "number", "commit-prefix"], ids=str)
def test_a_design_is_found_by_id_number_or_commit_prefix(repo: DesignsRepo, how: str) -> None:
    rec = repo.get("mamba2-2")
    key = {"id": rec.id, "number": "2", "commit-prefix": rec.commit[:10]}[how]
    assert repo.get(key) == rec


def test_unknown_design_names_the_latest(repo: DesignsRepo) -> None:
    with pytest.raises(StoreError, match=r"no design 'gpt-99'.*latest"):
        repo.get("gpt-99")


def test_a_second_writer_is_refused_while_readers_are_welcome(repo: DesignsRepo) -> None:
    with pytest.raises(StoreError, match="being written by process"):
        DesignsRepo.open(repo.path, writer=True)
    with DesignsRepo.open(repo.path) as reader:
        assert [r.id for r in reader.records()] == [r.id for r in repo.records()]
        with pytest.raises(StoreError, match="read-only"):
            reader.commit_design(gpt_files(), designer="x", title="t")


@pytest.mark.parametrize(
    ("name", "expected"),
    [("gpt", "gpt"), ("GPT SwiGLU v2", "gpt-swiglu-v2"), ("../etc", "etc"), ("???", "design")],
    ids=["plain", "spaces-and-case", "path-like", "nothing-left"],
)
def test_design_names_become_ref_safe_slugs(name: str, expected: str) -> None:
    assert slug(name) == expected


def test_designs_from_a_directory_skip_caches(repo: DesignsRepo, tmp_path: Path) -> None:
    src = tmp_path / "d"
    for rel, text in gpt_files().items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text)
    (src / "units" / "__pycache__").mkdir()
    (src / "units" / "__pycache__" / "mlp.cpython-311.pyc").write_bytes(b"\0")
    rec = repo.commit_design(src, designer="person", title="From a folder")
    assert set(repo.read_design_files(rec.id)) == set(gpt_files())
