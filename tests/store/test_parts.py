"""The repository's parts on their own: the writer lock, the packer, the design tags, and the
names ``genesys_tui.store.repo`` goes on exporting."""

from __future__ import annotations

import shutil
from pathlib import Path

from genesys_tui.store.lock import WriterLock
from genesys_tui.store.packing import Packer
from genesys_tui.store.repo import DesignsRepo
from genesys_tui.store.tags import match_tags, read_tags


def test_the_writer_lock_is_held_while_a_writer_is_open_and_only_then(
    ns_path: Path, seeded_template: Path
) -> None:
    shutil.copytree(seeded_template, ns_path, symlinks=True)
    lock = WriterLock(ns_path / ".git")
    with DesignsRepo.open(ns_path):
        assert not lock.is_held()  # a reader takes no lock
    with DesignsRepo.open(ns_path, writer=True):
        assert lock.is_held()
    assert not lock.is_held()


def test_the_packer_leaves_no_loose_refs_and_restarts_its_count(repo: DesignsRepo) -> None:
    tags = repo.git_dir / "refs" / "tags"
    assert any(tags.glob("*"))
    packer = Packer(repo.git_dir)
    packer.unpacked = 5
    packer.start()
    assert packer.unpacked == 0
    packer.wait()
    assert not packer.running
    assert not any(tags.glob("*"))
    assert "refs/tags/gpt-1" in (repo.git_dir / "packed-refs").read_text()


def test_tags_resolve_an_id_a_number_or_a_commit_prefix(repo: DesignsRepo) -> None:
    tags = read_tags(repo.git_dir)
    sha = tags["gpt-1"]
    assert match_tags(tags, "gpt-1") == match_tags(tags, "1") == match_tags(tags, sha[:7])
    assert match_tags(tags, "gpt-1") == ["gpt-1"]
    assert match_tags(tags, "gpt-99") == match_tags(tags, "99") == []


def test_the_repo_module_keeps_exporting_its_names() -> None:
    import genesys_tui.store as store
    import genesys_tui.store.repo as repo_module

    names = ["COMMITTER", "PACK_EVERY", "DesignSource", "designs_root", "namespace_path", "slug"]
    assert all(hasattr(repo_module, name) for name in names)
    assert store.namespace_path is repo_module.namespace_path
    assert store.DesignsRepo is repo_module.DesignsRepo
