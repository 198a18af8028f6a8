"""A writer killed mid-run loses no committed design; readers run safely beside the writer."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from genesys_tui.store.index import DesignIndex
from genesys_tui.store.repo import DesignsRepo
from genesys_tui.store.scan import scan_records

# A writer evolving designs forever (or COUNT of them), printing each id once committed.
WRITER = r"""
import json, random, sys
from genesys_tui.resources import library_dir
from genesys_tui.store.repo import DesignsRepo

path, count = sys.argv[1], int(sys.argv[2])
gpt = library_dir() / "gpt"
base = {p.relative_to(gpt).as_posix(): p.read_text() for p in gpt.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts}
rng = random.Random(0)
repo = DesignsRepo.open(path, writer=True, create=True, flush_every=4)
repo.pack_every = 7  # exercise background packing while committing
ids = ["gpt-1"]
n = 0
while count == 0 or n < count:
    n += 1
    data = json.loads(base["design.json"])
    data["units"]["mlp"]["args"]["expand"] = rng.randint(1, 16)
    files = {**base, "design.json": json.dumps(data)}
    parents = rng.sample(ids, 2) if len(ids) > 2 and n % 4 == 0 else [rng.choice(ids)]
    rec = repo.commit_design(files, parents=parents, designer="offline-mutator", title=f"n{n}")
    print("committed", rec.id, rec.commit, flush=True)
    repo.attach(rec.id, "check", {"ok": True, "summary": f"check {n}"})
    print("attached", rec.id, flush=True)
    ids.append(rec.id)
repo.close()
"""


def start_writer(path: Path, count: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(count)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


def git(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True)


def _wait_for_orphaned_packer(git_dir: Path, timeout: float = 120.0) -> None:
    """Wait until no process works in ``git_dir``: the killed writer's background packer
    (``git repack -d``) runs on, and an fsck beside it sees loose objects vanish into a pack."""
    import psutil

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(str(git_dir) in " ".join(process.info["cmdline"] or ())
                   for process in psutil.process_iter(["cmdline"])):  # fmt: skip
            return
        time.sleep(0.1)
    raise AssertionError(f"the packer still runs in {git_dir} after {timeout:.0f} s")


@pytest.mark.parametrize("kill_after", [3, 10], ids=["early-kill", "after-packing"])
def test_a_writer_killed_with_sigkill_leaves_every_committed_design_intact(
    tmp_path: Path, kill_after: int
) -> None:
    path = tmp_path / "designs" / "crash"
    proc = start_writer(path, 0)
    committed: dict[str, str] = {}
    attached: set[str] = set()
    assert proc.stdout is not None
    for line in proc.stdout:
        word, design_id, *rest = line.split()
        if word == "committed":
            committed[design_id] = rest[0]
        else:
            attached.add(design_id)
        if len(committed) >= kill_after:
            proc.send_signal(signal.SIGKILL)  # mid-run: it is committing the next design now
            break
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    _wait_for_orphaned_packer(path / ".git")
    fsck = git(path, "fsck", "--strict", "--no-dangling")
    assert fsck.returncode == 0 and "error" not in fsck.stderr + fsck.stdout, fsck.stderr
    for design_id, commit in committed.items():
        assert git(path, "rev-parse", f"refs/tags/{design_id}").stdout.strip() == commit
    with DesignsRepo.open(path) as reader:  # catches the index up (the lock died with it)
        records = {r.id: r for r in reader.records()}
        assert set(committed) <= set(records)
        for design_id in committed:
            assert reader.read_design(design_id).units["mlp"].args["expand"] >= 1
        for design_id in attached:
            assert records[design_id].status == "checked"
    scanned, _ = scan_records(path / ".git")
    assert scanned == DesignsRepo.open(path).records()
    with DesignsRepo.open(path, writer=True) as writer:  # the next writer goes on
        rec = writer.commit_design(
            writer.read_design_files("gpt-1"),
            parents=["gpt-1"],
            designer="x",
            title="after the crash",
        )
        assert rec.seq == len(scanned) + 1


def test_readers_run_beside_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "designs" / "busy"
    DesignsRepo.create(path).close()
    proc = start_writer(path, 40)
    reads = 0
    seen_counts = set()
    index = DesignIndex(path / ".git" / "genesys" / "index.json")
    while proc.poll() is None:
        records = index.records()  # the writer replaces the file as we read it
        seen_counts.add(len(records))
        assert [r.seq for r in records] == list(range(1, len(records) + 1))
        with DesignsRepo.open(path) as reader:
            latest = reader.records()[-1]
            assert reader.get(latest.id).commit == latest.commit
            log = git(path, "log", "--tags", "--format=%H")
            assert log.returncode == 0 and latest.commit in log.stdout
        reads += 1
        time.sleep(0.05)
    assert proc.returncode == 0
    assert reads >= 3 and len(seen_counts) >= 2  # we did read while it was growing
    final = DesignsRepo.open(path)
    assert len(final.records()) == 5 + 40
    assert json.loads(final.index_path.read_text())["meta"]["1"]["designs"] == 45
    final.close()
