"""The TinyDB index: strict rows, atomic writes, rebuilt from git exactly, caught up when stale."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from genesys_tui.errors import IndexCorruptError, StoreError
from genesys_tui.store.index import DesignIndex
from genesys_tui.store.message import CommitMessage
from genesys_tui.store.records import DesignRecord, parse_note
from genesys_tui.store.repo import DesignsRepo
from tests.store.conftest import gpt_files, mutated


def grow(repo: DesignsRepo, n: int, seed: int = 0) -> None:
    """Commit ``n`` mutations and crossovers with results, deterministically."""
    import random

    rng = random.Random(seed)
    ids = ["gpt-1"]
    for i in range(n):
        parents = rng.sample(ids, 2) if len(ids) > 2 and i % 3 == 0 else [rng.choice(ids)]
        rec = repo.commit_design(
            mutated(gpt_files(), expand=rng.randint(1, 16)),
            parents=parents,
            designer=f"designer-{i % 2}",
            title=f"step {i}",
            summary=f"summary {i}",
            cost_usd=i / 100,
        )
        repo.attach(rec.id, "check", {"ok": i % 4 != 0, "summary": f"check {i}"})
        if i % 2:
            repo.attach(rec.id, f"rung:r{i % 3}", {"scores": {"bpb": 2.0 - i / 100}})
            repo.attach(rec.id, "fitness", {"value": i / 10})
        ids.append(rec.id)


def test_rebuild_gives_the_same_index_as_incremental_writes(repo: DesignsRepo) -> None:
    grow(repo, 12)
    repo.close()
    incremental = json.loads(repo.index_path.read_text())
    with DesignsRepo.open(repo.path, writer=True) as writer:
        assert writer.rebuild_index() == 5 + 12
    rebuilt = json.loads(repo.index_path.read_text())
    assert rebuilt == incremental
    assert {r["status"] for r in rebuilt["designs"].values()} >= {"rejected", "verified"}


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda text: "{ this is not json", "not valid JSON"),
        (lambda text: text.replace('"title":', '"titel":', 1), "titel: unknown field"),
        (lambda text: text[:-1] + ',"extra":{}}', "unknown table"),
        (lambda text: text.replace('"status":"proposed"', '"status":"great"', 1), "status"),
        (None, "no index"),
    ],
    ids=["garbage", "unknown-row-field", "unknown-table", "unknown-status", "missing"],
)
def test_a_damaged_or_missing_index_is_reported_and_rebuilt(
    repo: DesignsRepo, damage: Any, expected: str
) -> None:
    grow(repo, 3)
    repo.close()
    good = json.loads(repo.index_path.read_text())
    if damage is None:
        repo.index_path.unlink()
    else:
        repo.index_path.write_text(damage(repo.index_path.read_text()))
        with pytest.raises(IndexCorruptError, match=expected):
            DesignIndex(repo.index_path)
    with DesignsRepo.open(repo.path) as reader:  # a reader, with no writer running
        assert any(expected.split(":")[0] in n or "rebuilt" in n for n in reader.notices)
        assert len(reader.records()) == 8
    assert json.loads(repo.index_path.read_text()) == good


def test_an_index_behind_the_repository_catches_up_on_open(repo: DesignsRepo) -> None:
    grow(repo, 2)
    repo.close()
    before = json.loads(repo.index_path.read_text())
    with DesignsRepo.open(repo.path, writer=True) as writer:
        rec = writer.commit_design(
            mutated(gpt_files(), 5), parents=["gpt-1"], designer="x", title="late"
        )
        writer.attach("gpt-1", "fitness", {"value": 0.5})
        writer.index._dirty = False  # simulate a writer killed before its batched flush
        writer.index._pending.clear()
    assert json.loads(repo.index_path.read_text())["meta"] == before["meta"]
    with DesignsRepo.open(repo.path) as reader:
        assert reader.index.get(rec.seq) == reader.get(rec.id)
        assert reader.index.get(1).fitness == 0.5


def test_query_filters_with_tinydb(repo: DesignsRepo) -> None:
    grow(repo, 8)
    verified = repo.index.query(status="verified")
    assert verified and all(r.status == "verified" for r in verified)
    assert [r.seq for r in verified] == sorted(r.seq for r in verified)
    assert repo.index.query(designer="library", origin="seed")[0].id == "gpt-1"
    with pytest.raises(StoreError, match="unknown"):
        repo.index.query(colour="red")


def test_a_reader_sees_the_writers_flushes_without_reopening(repo: DesignsRepo) -> None:
    reader = DesignIndex(repo.index_path)
    count = len(reader)
    repo.commit_design(mutated(gpt_files()), parents=["gpt-1"], designer="x", title="t")
    repo.index.flush()
    assert len(reader) == count + 1


def record_row() -> dict[str, Any]:
    return DesignRecord(
        id="gpt-1",
        seq=1,
        commit="a" * 40,
        parents=(),
        name="gpt",
        designer="library",
        origin="seed",
        status="proposed",
        title="t",
        created=1,
        updated=1.0,
    ).to_dict()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": "red"}, "colour: unknown field"),
        ({"seq": "1"}, "seq: expected an integer"),
        ({"fitness": "high"}, "fitness: expected a finite number or null"),
        ({"check": {"ok": True, "summary": "s", "extra": 1}}, "extra: unknown field"),
        ({"rungs": {"r": {"bpb": "low"}}}, "rungs.r"),
        ({"origin": "alien"}, "unknown origin"),
    ],
    ids=[
        "unknown-field",
        "string-seq",
        "string-fitness",
        "nested-unknown",
        "bad-score",
        "bad-origin",
    ],
)
def test_records_reject_unknown_or_mistyped_fields(change: dict[str, Any], message: str) -> None:
    assert DesignRecord.from_dict(record_row()).id == "gpt-1"
    with pytest.raises(StoreError, match=message):
        DesignRecord.from_dict({**record_row(), **change})


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"format": 1, "design": "a-1", "results": {}, "extra": 1}, "extra: unknown field"),
        ({"format": 2, "design": "a-1", "results": {}}, "format: 2 is not supported"),
        (
            {
                "format": 1,
                "design": "a-1",
                "results": {"fitness": {"value": 1, "at": 0, "why": "x"}},
            },
            "why",
        ),
    ],
    ids=["unknown-top-field", "newer-format", "unknown-result-field"],
)
def test_notes_reject_unknown_fields(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(StoreError, match=message):
        parse_note(doc)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Title\n\nDesign-Id: a-1\nColour: red\n", "unknown trailer"),
        ("Title only\n", "no trailers"),
        (
            "T\n\nDesign-Id: a-1\nName: a\nOrigin: seed\nParents: none\nDesigner: d\n"
            "Status: proposed\n",
            "missing trailer Cost-USD",
        ),
    ],
    ids=["unknown-trailer", "no-trailers", "missing-trailer"],
)
def test_commit_messages_reject_unknown_or_missing_trailers(text: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        CommitMessage.parse(text)


def test_commit_message_round_trips_and_cleans_control_characters() -> None:
    msg = CommitMessage(
        design_id="gpt-2",
        name="gpt",
        origin="crossover",
        parents=("gpt-1", "mamba2-2"),
        designer="model <x>",
        status="proposed",
        cost_usd=0.5,
        title="Line one\nstill the title\x1b[31m",
        summary="First paragraph.\n\nSecond paragraph.",
    )
    back = CommitMessage.parse(msg.text())
    assert back.title == "Line one still the title[31m"
    assert back.summary == "First paragraph.\n\nSecond paragraph."
    assert (back.parents, back.cost_usd, back.designer) == (msg.parents, 0.5, "model <x>")


def test_index_writes_leave_no_temporary_files(repo: DesignsRepo, tmp_path: Path) -> None:
    grow(repo, 2)
    repo.close()
    assert sorted(p.name for p in repo.index_path.parent.iterdir()) == ["index.json", "writer.lock"]
