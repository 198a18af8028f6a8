#!/usr/bin/env python3
"""Train the shipped tokenizers on the embedded corpus's train split.

Run by developers after ``scripts/build_corpus.py``; writes
``genesys_tui/verify/data/tokenizers/<name>.json`` for every name in
``genesys_tui.verify.tokenizer.VOCAB_SIZES`` and prints each one's bytes per token on the
validation split::

    python scripts/train_tokenizers.py            # all of them
    python scripts/train_tokenizers.py bpe4k      # just one
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genesys_tui.verify.corpus import CorpusSource, load_documents
from genesys_tui.verify.tokenizer import (
    TOKENIZER_DIR,
    VOCAB_SIZES,
    build_byte_tokenizer,
    load_tokenizer,
    train_bpe,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", default=list(VOCAB_SIZES), help="tokenizers to train")
    args = parser.parse_args()
    train = [d.text for d in load_documents(CorpusSource(), "train")]
    validation = [d.text for d in load_documents(CorpusSource(), "validation")]
    val_bytes = sum(len(t.encode("utf-8")) for t in validation)
    TOKENIZER_DIR.mkdir(parents=True, exist_ok=True)
    for name in args.names:
        start = time.perf_counter()
        bpe = name != "bytes"
        backend = train_bpe(train, VOCAB_SIZES[name]) if bpe else build_byte_tokenizer()
        backend.save(str(TOKENIZER_DIR / f"{name}.json"), pretty=False)
        tok = load_tokenizer(name)
        n_tokens = sum(len(ids) for ids in tok.encode_batch(validation))
        print(
            f"{name:>7}: vocab {tok.vocab_size:6d}  eot {tok.eot_id:5d}  "
            f"{val_bytes / n_tokens:5.2f} bytes/token on validation  "
            f"({time.perf_counter() - start:.1f} s)"
        )


if __name__ == "__main__":
    main()
