"""The corpus: where training and held-out documents come from.

Three kinds of source, one interface (``load_documents(source, split) -> list[Document]``):

- ``embedded``: the English corpus shipped in ``genesys_tui/verify/data/corpus/`` (built by
  ``scripts/build_corpus.py``; see its ``SOURCES.md``), already split by document into
  ``train`` / ``validation`` / ``test``.
- ``files``: local text files, a directory (searched recursively) or a glob. Each ``.txt`` file
  is one document; each line of a ``.jsonl`` file is one document (its ``text_field``).
- ``hf``: a Hugging Face dataset through ``datasets.load_dataset`` (needs the network, or a copy
  already cached under ``HF_HOME``).

``files`` documents, and ``hf`` splits that the dataset lacks, are assigned to splits by a
seeded hash of the document id, so adding documents moves none of the others.

``fingerprint(source, split)`` names the exact content of a split: the token cache keys on it.
"""

from __future__ import annotations

import glob
import hashlib
import json
import lzma
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from genesys_tui.errors import ConfigError, VerifyError

SPLITS = ("train", "validation", "test")
KINDS = ("embedded", "hf", "files")
EMBEDDED_DIR = Path(__file__).resolve().parent / "data" / "corpus"
TEXT_SUFFIXES = (".txt", ".jsonl")


@dataclass(frozen=True)
class Document:
    """One document: the unit of splitting and of packing (documents never share a sequence
    without an end-of-text token between them)."""

    id: str  # unique within its source, stable across runs
    source: str  # where it came from ("brown", "austen", a file name, a dataset name)
    title: str  # human-readable origin
    text: str  # the document's text


@dataclass(frozen=True)
class CorpusSource:
    """Which corpus to train and evaluate on. ``CorpusSource()`` is the embedded corpus."""

    kind: str = "embedded"  # "embedded", "hf" (a Hugging Face dataset) or "files" (local text)
    name: str = ""  # hf: the dataset's name on the Hub, e.g. "Salesforce/wikitext"
    config: str | None = None  # hf: the dataset's configuration, e.g. "wikitext-2-raw-v1"
    path: str = ""  # files: a directory (searched recursively) or a glob of .txt/.jsonl files
    text_field: str = "text"  # hf and .jsonl files: the field that holds the text
    splits: tuple[str, str, str] = SPLITS  # hf: the dataset's names for train/validation/test
    heldout_fraction: float = 0.05  # files (and missing hf splits): share each held-out split gets
    seed: int = 0  # seed of the hash that assigns documents to splits
    max_documents: int | None = None  # hf and files: use at most this many documents per split

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"corpus.kind: {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.kind == "hf" and not self.name:
            raise ConfigError("corpus.name: a Hugging Face source needs the dataset's name")
        if self.kind == "files" and not self.path:
            raise ConfigError("corpus.path: a files source needs a directory or a glob")
        if not 0.0 < self.heldout_fraction < 0.5:
            raise ConfigError(
                f"corpus.heldout_fraction: {self.heldout_fraction} must be in (0, 0.5)"
            )
        if len(self.splits) != 3 or not all(self.splits):
            raise ConfigError("corpus.splits: give three split names (train, validation, test)")
        if self.max_documents is not None and self.max_documents < 1:
            raise ConfigError(f"corpus.max_documents: {self.max_documents} must be at least 1")
        if not self.text_field:
            raise ConfigError("corpus.text_field: must name a field")

    def label(self) -> str:
        """A short, file-name-safe name of the source, for cache directory names."""
        raw = {"embedded": "embedded", "hf": f"hf-{self.name}", "files": "files"}[self.kind]
        return "".join(c if c.isalnum() or c in "-_." else "_" for c in raw)[:60]


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise VerifyError(f"unknown split {split!r}: use one of {', '.join(SPLITS)}")


def heldout_split_of(doc_id: str, seed: int, heldout_fraction: float) -> str:
    """The split of a document by a seeded hash of its id: validation and test each get
    ``heldout_fraction`` of the documents (in expectation), train the rest."""
    digest = hashlib.sha256(f"genesys-split:{seed}:{doc_id}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    if u < heldout_fraction:
        return "validation"
    if u < 2 * heldout_fraction:
        return "test"
    return "train"


# ------------------------------------------------------------------------------------ embedded


@cache
def embedded_manifest() -> dict[str, Any]:
    """The embedded corpus's ``manifest.json``: per split its documents, UTF-8 bytes, sources
    and checksums; the packages it was built from with their sha256 and licences."""
    path = EMBEDDED_DIR / "manifest.json"
    if not path.is_file():
        raise VerifyError(f"the embedded corpus is missing ({path}); reinstall genesys_tui")
    return dict(json.loads(path.read_text()))


def embedded_held_out_files() -> tuple[str, ...]:
    """The embedded corpus's files of the splits models are scored on (validation: bits per
    byte; test: the held-out tasks), which a cell that runs design code must not read."""
    splits = embedded_manifest()["splits"]
    return tuple(str(EMBEDDED_DIR / splits[s]["file"]) for s in SPLITS[1:])


def _embedded(split: str) -> list[Document]:
    info = embedded_manifest()["splits"][split]
    with lzma.open(EMBEDDED_DIR / info["file"], "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [Document(r["id"], r["source"], r["title"], r["text"]) for r in rows]


def load_brown_lexicon() -> list[tuple[str, str, int]]:
    """(word, Brown tag, count) over the Brown documents of the embedded train split, most
    frequent first. Tags are Brown's, lower case: ``nn`` singular noun, ``nns`` plural noun,
    ``vbz`` verb 3rd person singular present, ``vb`` base form, ``-tl``/``-hl`` suffixes mark
    words in titles/headlines."""
    with lzma.open(EMBEDDED_DIR / "brown_lexicon_train.tsv.xz", "rt", encoding="utf-8") as f:
        next(f)  # header
        rows = [line.rstrip("\n").split("\t") for line in f]
    return [(w, t, int(n)) for w, t, n in rows]


# --------------------------------------------------------------------------------------- files


def _files(source: CorpusSource) -> list[Path]:
    root = Path(source.path).expanduser()
    if root.is_dir():
        found = [p for p in root.rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES]
    else:
        found = [Path(p) for p in glob.glob(os.path.expanduser(source.path), recursive=True)]
        found = [p for p in found if p.is_file() and p.suffix in TEXT_SUFFIXES]
    if not found:
        raise VerifyError(
            f"no .txt or .jsonl files at {source.path!r}: give a directory holding them or a "
            "glob such as 'texts/**/*.txt'"
        )
    return sorted(found)


def _file_base(source: CorpusSource) -> Path:
    root = Path(source.path).expanduser()
    return root if root.is_dir() else Path(os.path.commonpath(_files(source))).parent


def _read_file_documents(source: CorpusSource) -> list[Document]:
    base = _file_base(source)
    docs: list[Document] = []
    for path in _files(source):
        rel = path.relative_to(base).as_posix() if path.is_relative_to(base) else str(path)
        if path.suffix == ".txt":
            docs.append(Document(rel, "files", rel, path.read_text(encoding="utf-8")))
            continue
        with path.open(encoding="utf-8") as f:
            for n, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    text = json.loads(line)[source.text_field]
                except (json.JSONDecodeError, KeyError, TypeError) as exc:
                    raise VerifyError(
                        f"{path}:{n}: expected a JSON object with a {source.text_field!r} "
                        f"string ({exc}); fix the line or set corpus.text_field"
                    ) from exc
                docs.append(Document(f"{rel}:{n}", "files", f"{rel} line {n}", str(text)))
    return docs


def _files_split(source: CorpusSource, split: str) -> list[Document]:
    docs = [
        d
        for d in _read_file_documents(source)
        if heldout_split_of(d.id, source.seed, source.heldout_fraction) == split
    ]
    return docs[: source.max_documents] if source.max_documents else docs


# ------------------------------------------------------------------------------ Hugging Face


def _offline_note() -> str:
    flags = [v for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE") if os.environ.get(v)]
    return f" ({' and '.join(flags)} set: no download was tried)" if flags else ""


def _hf_dataset(source: CorpusSource) -> Any:
    try:
        import datasets
    except ImportError as exc:
        raise VerifyError(
            "a Hugging Face corpus needs the 'datasets' package: pip install datasets"
        ) from exc
    try:
        return datasets.load_dataset(source.name, source.config)
    except Exception as exc:  # datasets raises many types: network, missing, bad config
        raise VerifyError(
            f"cannot load the Hugging Face dataset {source.name!r}"
            f"{f' (config {source.config!r})' if source.config else ''}{_offline_note()}: "
            f"{type(exc).__name__}: {exc}. Load it once with network access so that it is "
            "cached under HF_HOME, or use a 'files' source (local .txt/.jsonl files) or the "
            "'embedded' corpus."
        ) from exc


def _hf_split(source: CorpusSource, split: str) -> tuple[list[Document], str]:
    """Documents of ``split`` and a fingerprint of them. A held-out split the dataset lacks is
    carved out of its train split by hash, and those documents then leave train."""
    dsd = _hf_dataset(source)
    names = dict(zip(SPLITS, source.splits, strict=True))
    if names["train"] not in dsd:
        raise VerifyError(
            f"Hugging Face dataset {source.name!r} has splits {sorted(dsd)}, none named "
            f"{names['train']!r}: set corpus.splits to the dataset's split names"
        )
    missing = tuple(s for s in SPLITS[1:] if names[s] not in dsd)
    carve = split in missing
    ds = dsd[names["train"] if carve else names[split]]
    if source.text_field not in ds.column_names:
        raise VerifyError(
            f"Hugging Face dataset {source.name!r} has no field {source.text_field!r} "
            f"(it has {ds.column_names}): set corpus.text_field"
        )
    docs: list[Document] = []
    for i, text in enumerate(ds[source.text_field]):
        doc_id = f"{source.name}:{ds.split}:{i}"
        if split == "train" or carve:
            assigned = heldout_split_of(doc_id, source.seed, source.heldout_fraction)
            if (split == "train" and assigned in missing) or (carve and assigned != split):
                continue
        if text and text.strip():
            docs.append(Document(doc_id, source.name, doc_id, text))
        if source.max_documents and len(docs) >= source.max_documents:
            break
    return docs, f"{ds._fingerprint}:{missing}"


# ------------------------------------------------------------------------------------- public


def load_documents(source: CorpusSource, split: str) -> list[Document]:
    """The documents of ``split`` ("train", "validation" or "test"), in a fixed order.

    Raises ``VerifyError`` with what to do when the source cannot be read (missing files,
    offline without a cached Hugging Face dataset, a missing field) or the split is empty.
    """
    _check_split(split)
    if source.kind == "embedded":
        docs = _embedded(split)
    elif source.kind == "files":
        docs = _files_split(source, split)
    else:
        docs = _hf_split(source, split)[0]
    if not docs:
        raise VerifyError(
            f"the {split} split of the {source.kind} corpus has no documents: give more "
            "documents (each .txt file and each .jsonl line is one) or a larger "
            "corpus.heldout_fraction"
        )
    return docs


def fingerprint(source: CorpusSource, split: str) -> str:
    """A sha256 that changes whenever the text of ``split`` may have changed.

    embedded: the manifest's checksum of the uncompressed split; files: the split rules and the
    content of every file; hf: the dataset's own fingerprint and the split rules.
    """
    _check_split(split)
    digest = hashlib.sha256(repr((source, split)).encode())
    if source.kind == "embedded":
        digest.update(embedded_manifest()["splits"][split]["sha256_content"].encode())
    elif source.kind == "files":
        base = _file_base(source)
        for path in _files(source):
            digest.update(
                str(path.relative_to(base) if path.is_relative_to(base) else path).encode()
            )
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    else:
        digest.update(_hf_split(source, split)[1].encode())
    return digest.hexdigest()
