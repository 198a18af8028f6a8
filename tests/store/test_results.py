"""Results attach to a design's commit as a git note, without rewriting it, and read back."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from genesys_tui.errors import StoreError
from genesys_tui.store.repo import DesignsRepo
from tests.store.conftest import gpt_files, mutated

RESULTS: dict[str, dict[str, Any]] = {
    "check": {
        "ok": True,
        "summary": "all checks passed",
        "seconds": 2.5,
        "findings": [{"rule": "causality", "ok": True}],
    },
    "rung:cpu-xs": {
        "scores": {"bpb": 1.93, "blimp": 0.61},
        "seconds": 40.0,
        "tokens": 10_000,
        "params": 123_456,
    },
    "fitness": {"value": 0.71, "detail": {"rank": 3}},
    "failure": {"stage": "train", "reason": "loss diverged at step 120"},
}


@pytest.mark.parametrize("kind", list(RESULTS), ids=list(RESULTS))
def test_a_result_is_attached_read_back_and_shown_by_git(repo: DesignsRepo, kind: str) -> None:
    child = repo.commit_design(mutated(gpt_files()), parents=["gpt-1"], designer="x", title="t")
    repo.attach(child.id, kind, RESULTS[kind])
    got = repo.results(child.id)[kind]
    assert {k: v for k, v in got.items() if k != "at"} == RESULTS[kind]
    assert repo.get(child.id).commit == child.commit  # the commit was not rewritten
    note = subprocess.run(
        ["git", "-C", str(repo.path), "notes", "--ref=genesys", "show", child.id],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(note)["results"][kind] == got
    shown = subprocess.run(
        ["git", "-C", str(repo.path), "log", "-1", child.id],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Notes (genesys):" in shown  # notes.displayRef is set for plain `git log`


def test_results_accumulate_and_the_record_follows(repo: DesignsRepo) -> None:
    child = repo.commit_design(
        mutated(gpt_files()), parents=["gpt-1"], designer="x", title="t", cost_usd=0.25
    )
    assert repo.get(child.id).status == "proposed"
    repo.attach(child.id, "check", RESULTS["check"])
    assert repo.get(child.id).status == "checked"
    repo.attach(child.id, "rung:cpu-xs", RESULTS["rung:cpu-xs"])
    repo.attach(child.id, "fitness", RESULTS["fitness"])
    rec = repo.get(child.id)
    assert rec.status == "verified" and rec.fitness == 0.71
    assert rec.rungs == {"cpu-xs": {"bpb": 1.93, "blimp": 0.61}}
    assert rec.check == {"ok": True, "summary": "all checks passed"}
    assert rec.cost_usd == 0.25 and rec.compute_s == pytest.approx(42.5)
    repo.attach(child.id, "failure", RESULTS["failure"])
    assert repo.get(child.id).status == "failed"
    assert "diverged" in repo.get(child.id).reason
    assert set(repo.results(child.id)) == set(RESULTS)


@pytest.mark.parametrize(
    ("kind", "payload", "message"),
    [
        ("check", {"ok": True, "summary": "s", "colour": "red"}, "colour: unknown field"),
        ("check", {"ok": "yes", "summary": "s"}, "ok: expected true or false"),
        ("check", {"summary": "s"}, "ok: missing required field"),
        ("rung:cpu", {"scores": {"bpb": float("nan")}}, "scores: expected"),
        ("rung:", {"scores": {}}, "unknown result kind"),
        ("repeats:cpu-s", {"scores": {"seed0": 0.4}}, "scores: expected an object of training"),
        ("repeats:", {"scores": {"0": 0.4}}, "unknown result kind"),
        ("score", {"value": 1.0}, "unknown result kind"),
        ("fitness", {"value": 1.0, "at": 5.0}, "at is stamped by the store"),
    ],
    ids=[
        "unknown-field",
        "wrong-type",
        "missing-field",
        "nan-score",
        "rung-without-name",
        "repeat-not-by-seed",
        "repeats-without-rung",
        "unknown-kind",
        "bad-time",
    ],
)
def test_malformed_results_are_rejected_before_anything_is_written(
    repo: DesignsRepo, kind: str, payload: dict[str, Any], message: str
) -> None:
    head = repo.notes.head
    with pytest.raises(StoreError, match=message):
        repo.attach("gpt-1", kind, payload)
    assert repo.notes.head == head and repo.results("gpt-1") == {}


def _git(repo: DesignsRepo, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo.path), *args], capture_output=True, text=True, check=True
    ).stdout


def test_a_later_result_of_a_kind_replaces_the_earlier(repo: DesignsRepo) -> None:
    repo.attach("gpt-1", "fitness", {"value": 0.1})
    repo.attach("gpt-1", "fitness", {"value": 0.2})
    assert repo.get("gpt-1").fitness == 0.2
    assert (
        json.loads(_git(repo, "notes", "--ref=genesys", "show", "gpt-1"))["results"]["fitness"][
            "value"
        ]
        == 0.2
    )


def test_git_log_all_shows_design_commits_only(repo: DesignsRepo) -> None:
    child = repo.commit_design(mutated(gpt_files()), parents=["gpt-1"], designer="x", title="t")
    for kind in ("check", "rung:cpu-xs", "fitness"):
        repo.attach(child.id, kind, RESULTS[kind])
    repo.attach("gpt-1", "check", RESULTS["check"])
    shown = _git(repo, "log", "--all", "--format=%H").split()
    assert sorted(shown) == sorted(r.commit for r in repo.records())
    # The results stay where git shows them beside each design.
    assert "Notes (genesys):" in _git(repo, "log", "-1", child.id)


def test_a_namespace_with_a_notes_commit_still_loads_and_its_next_result_drops_it(
    repo: DesignsRepo,
) -> None:
    """Namespaces written before the notes ref named a tree keep a notes commit there."""
    repo.attach("gpt-1", "fitness", {"value": 0.1})
    tree = _git(repo, "rev-parse", "refs/notes/genesys").strip()
    env = {"GIT_AUTHOR_NAME": "g", "GIT_AUTHOR_EMAIL": "g@x", "GIT_COMMITTER_NAME": "g",
           "GIT_COMMITTER_EMAIL": "g@x"}  # fmt: skip
    old = subprocess.run(
        ["git", "-C", str(repo.path), "commit-tree", tree, "-m", "genesys: fitness result"],
        capture_output=True, text=True, check=True, env={**env, "PATH": "/usr/bin:/bin"},
    ).stdout.strip()  # fmt: skip
    _git(repo, "update-ref", "refs/notes/genesys", old)
    path = repo.path
    repo.close()
    with DesignsRepo.open(path, writer=True) as reopened:
        assert reopened.get("gpt-1").fitness == 0.1
        reopened.attach("gpt-1", "fitness", {"value": 0.3})
        assert _git(reopened, "cat-file", "-t", "refs/notes/genesys").strip() == "tree"
        assert reopened.results("gpt-1")["fitness"]["value"] == 0.3
    with DesignsRepo.open(path) as reader:
        assert reader.get("gpt-1").fitness == 0.3


def test_a_one_argument_mutation_of_a_seed_diffs_as_one_line(repo: DesignsRepo) -> None:
    data = json.loads(gpt_files()["design.json"])
    data["units"]["attn"]["args"]["n_heads"] = 8
    # Written compactly, as a model might: stored in the one canonical form all the same.
    child = repo.commit_design(
        {**gpt_files(), "design.json": json.dumps(data)}, parents=["gpt-1"], designer="x",
        title="More heads",
    )  # fmt: skip
    diff = _git(repo, "diff", "--unified=0", "gpt-1", child.id)
    changed = [
        line for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]  # fmt: skip
    assert changed == ['-        "n_heads": 4', '+        "n_heads": 8']
