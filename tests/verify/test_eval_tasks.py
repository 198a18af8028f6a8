"""Task sources: generated pairs and local BLiMP become lm-eval tasks, the good sentence's position
is drawn (so tied scores earn half), hub tasks without a hub fail with a clear message, and the
n-gram baselines score through the same tasks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from genesys_tui.errors import VerifyError
from genesys_tui.verify.evals import tasks as T
from genesys_tui.verify.evals.baselines import NgramLM, NgramModel, words
from genesys_tui.verify.evals.evaluate import evaluate, run_taskset

BLIMP_DIR = Path(
    os.environ.get("GENESYS_BLIMP_DIR", Path(__file__).resolve().parents[3] / "shared" / "blimp")
)
needs_blimp = pytest.mark.skipif(
    not (BLIMP_DIR / "anaphor_gender_agreement.jsonl").is_file(),
    reason=f"real BLiMP is not at {BLIMP_DIR}",
)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_genblimp_writes_one_task_per_phenomenon(tmp_path: Path):
    ts = T.prepare(["genblimp"], tmp_path, pairs=20)
    assert ts.groups["genblimp"] == ts.names and len(ts.names) == len(T.PHENOMENA)
    rows = read_jsonl(tmp_path / "genblimp_sva_local.jsonl")
    assert len(rows) == 20
    for row in rows:
        assert row["choices"][row["label"]] == row["sentence_good"]
    config = json.loads((tmp_path / "genblimp_sva_local.yaml").read_text())
    assert config["task"] == "genblimp_sva_local" and config["output_type"] == "multiple_choice"


def test_the_good_sentence_position_is_drawn_per_pair(tmp_path: Path):
    rows = T.pair_rows([(f"good {i}", f"bad {i}") for i in range(200)], seed=0, tag="x")
    first = sum(r["label"] == 0 for r in rows)
    assert 70 < first < 130
    assert rows == T.pair_rows([(f"good {i}", f"bad {i}") for i in range(200)], seed=0, tag="x")


class ConstantLM(NgramLM):
    """Scores every continuation the same: a model that knows nothing."""

    def loglikelihood(self, requests, disable_tqdm=False):
        return [(-1.0, False) for _ in requests]


def test_a_model_with_tied_scores_earns_half_not_all(tmp_path: Path):
    lm = ConstantLM(model=NgramModel(["a b"], 1))
    report = evaluate(lm, ["genblimp_det_noun"], pairs=400, workdir=tmp_path)
    assert report.accuracy["genblimp_det_noun"] == pytest.approx(0.5, abs=0.08)


def test_baselines_score_the_generated_pairs(tmp_path: Path):
    text = " ".join(["Mary saw an old house .", "John saw a new dog .", "an apple . a dog ."] * 30)
    ts = T.prepare(["genblimp_a_an"], tmp_path, pairs=40)
    uni = run_taskset(NgramLM(model=NgramModel([text], 1)), ts).accuracy["genblimp_a_an"]
    bi = run_taskset(NgramLM(model=NgramModel([text], 2)), ts).accuracy["genblimp_a_an"]
    assert uni == pytest.approx(0.5)  # the couples cancel any preference for one article
    assert 0.0 <= bi <= 1.0


def test_bigram_prefers_seen_pairs_of_words():
    m = NgramModel(["the dogs run . the dog runs ."] * 5, 2)
    assert m.score(words("the dogs run")) > m.score(words("the dogs runs"))
    assert words("Mary's dog, old.") == ["Mary", "'", "s", "dog", ",", "old", "."]


@needs_blimp
def test_local_blimp_is_read_in_place_and_scored(tmp_path: Path):
    ts = T.prepare(
        ["blimp_local_anaphor_gender_agreement"], tmp_path / "tasks", blimp_dir=BLIMP_DIR
    )
    rows = read_jsonl(tmp_path / "tasks" / "blimp_local_anaphor_gender_agreement.jsonl")
    assert len(rows) == 1000 and ts.names == ("blimp_local_anaphor_gender_agreement",)
    lm = NgramLM(model=NgramModel(["Katherine can't help herself ."], 2))
    acc = run_taskset(lm, ts, limit=50).accuracy["blimp_local_anaphor_gender_agreement"]
    assert 0.0 <= acc <= 1.0
    assert len(T.local_blimp_paradigms(BLIMP_DIR)) == 67


def test_local_blimp_needs_its_directory(tmp_path: Path):
    with pytest.raises(VerifyError, match="--blimp-dir"):
        T.prepare(["blimp_local"], tmp_path)
    with pytest.raises(VerifyError, match="no BLiMP jsonl"):
        T.prepare(["blimp_local"], tmp_path, blimp_dir=tmp_path / "empty")


def test_hub_tasks_offline_fail_with_a_clear_message(tmp_path: Path):
    assert "HF_HUB_OFFLINE" in T.hub_status()
    lm = NgramLM(model=NgramModel(["a b"], 1))
    with pytest.raises(VerifyError, match=r"Hugging Face Hub.*genblimp.*--blimp-dir"):
        evaluate(lm, ["wnli"], workdir=tmp_path)
    assert set(T.PAPER_TASKS) >= {"blimp", "wnli", "rte", "winogrande", "mrpc"}
