"""verify(): check, train, evaluate from the saved weights, score; rejected designs are results,
not crashes; ``genesys verify --json`` prints the promised fields."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from genesys_tui import load_design
from genesys_tui.errors import ConfigError
from genesys_tui.ladder import Rung
from genesys_tui.verify.checkpoint import load_checkpoint
from genesys_tui.verify.corpus import CorpusSource
from genesys_tui.verify.evals.lm_model import weights_sha256
from genesys_tui.verify.verify import VerifyResult, VerifySettings, verify
from tests.conftest import LIBRARY
from tests.verify.test_train import write_corpus

RUNG = Rung(
    name="tiny-verify", d_model=32, n_layers=1, tokenizer="bytes", context_length=32,
    tokens=32 * 8 * 10, batch_size=8, lr=3e-3, min_lr=3e-4, warmup=0.1, eval_tokens=1024,
)  # fmt: skip


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def settings(tmp_path: Path, **kw: object) -> VerifySettings:
    corpus = CorpusSource(kind="files", path=str(write_corpus(tmp_path / "corpus")),
                          heldout_fraction=0.2)  # fmt: skip
    base: dict[str, object] = dict(
        check=False, tasks=("genblimp_a_an",), pairs=20, corpus=corpus, tasks_min_tokens=0
    )
    return VerifySettings(**{**base, **kw})  # type: ignore[arg-type]


def test_verify_scores_the_saved_weights(tmp_path: Path):
    result = verify(LIBRARY / "gpt", RUNG, settings(tmp_path), out_dir=tmp_path / "run")
    assert result.ok and result.reason is None
    assert result.bpb is not None and result.bpb > 0
    assert set(result.evals) == {"genblimp_a_an"} and result.fitness is not None
    assert result.checkpoint is not None
    model, _ = load_checkpoint(result.checkpoint)
    assert result.weights_sha256 == weights_sha256(model)
    data = json.loads(result.to_json())
    assert {"rung", "bpb", "evals", "fitness", "tokens_per_second"} <= set(data)


def test_a_rung_too_small_for_the_tasks_skips_them_and_says_so(tmp_path: Path):
    result = verify(
        LIBRARY / "gpt", RUNG, settings(tmp_path, tasks_min_tokens=RUNG.tokens + 1),
        out_dir=tmp_path / "run",
    )  # fmt: skip
    assert result.ok and result.evals == {}
    assert result.checkpoint is not None  # the weights scored on bits per byte are named
    assert result.weights_sha256 == weights_sha256(load_checkpoint(result.checkpoint)[0])
    assert len(result.notes) == 1 and "tasks skipped" in result.notes[0]
    assert result.bpb is not None
    assert result.fitness == pytest.approx(1 - result.bpb / 8)  # bits per byte alone
    at_the_threshold = verify(
        LIBRARY / "gpt", RUNG, settings(tmp_path, tasks_min_tokens=RUNG.tokens)
    )
    assert set(at_the_threshold.evals) == {"genblimp_a_an"} and at_the_threshold.notes == []


def test_tasks_min_tokens_must_be_a_count(tmp_path: Path):
    for bad in (-1, 1.5, True):
        with pytest.raises(ConfigError, match="tasks_min_tokens"):
            VerifySettings(tasks_min_tokens=bad)  # type: ignore[arg-type]


def test_a_design_the_checker_rejects_is_a_result_not_a_crash(tmp_path: Path):
    broken = tmp_path / "broken"
    shutil.copytree(LIBRARY / "gpt", broken)
    unit = broken / "units" / "mlp.py"
    unit.write_text("import os\n" + unit.read_text())
    result = verify(load_design(broken), RUNG, settings(tmp_path, check=True))
    assert isinstance(result, VerifyResult) and not result.ok
    assert "rejected by the checker" in (result.reason or "")
    assert result.check is not None and result.params == 0


def test_genesys_verify_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from genesys_tui.cli import main

    ladder = tmp_path / "ladder.toml"
    ladder.write_text(
        '[tiny]\n[[tiny.rungs]]\nname = "tiny-verify"\nd_model = 32\nn_layers = 1\n'
        'tokenizer = "bytes"\ncontext_length = 32\ntokens = 2560\nbatch_size = 8\n'
        "eval_tokens = 1024\n"
    )
    corpus = write_corpus(tmp_path / "corpus")
    code = main(["verify", str(LIBRARY / "gpt"), "--rung", "tiny-verify", "--ladder", str(ladder),
                 "--no-check", "--files", str(corpus), "--tasks", "genblimp_det_noun",
                 "--pairs", "20", "--tasks-min-tokens", "0", "--json"])  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["rung"] == "tiny-verify"
    assert {"bpb", "evals", "fitness", "tokens_per_second"} <= set(out)
    assert "genblimp_det_noun" in out["evals"] and out["notes"] == []
    # by default a rung this small skips the tasks, and says so
    code = main(["verify", str(LIBRARY / "gpt"), "--rung", "tiny-verify", "--ladder", str(ladder),
                 "--no-check", "--files", str(corpus), "--tasks", "genblimp_det_noun",
                 "--json"])  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["evals"] == {} and "tasks skipped" in out["notes"][0]


def test_only_the_library_counts_as_the_projects_own_code(tmp_path: Path):
    from genesys_tui.resources import is_library_design

    copy = tmp_path / "gpt"
    shutil.copytree(LIBRARY / "gpt", copy)
    assert is_library_design("gpt") and is_library_design(LIBRARY / "gpt")
    assert is_library_design(LIBRARY / "gpt" / "design.json")
    assert not is_library_design(copy) and not is_library_design(copy / "design.json")
    assert not is_library_design("no-such-design")


def test_a_design_directory_asking_for_in_process_work_is_refused_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """A design that is not the library's is verified in the sandbox; the options that would
    run its code here are refused in one line that names them and the way out."""
    from genesys_tui.cli import main

    design = tmp_path / "mine"
    shutil.copytree(LIBRARY / "gpt", design)
    out = tmp_path / "run"
    code = main(["verify", str(design), "--rung", "cpu-xs", "--tasks", "genblimp_det_noun",
                 "--out", str(out)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "--tasks, --out" in err and "--no-sandbox" in err, err
    assert len(err.strip().splitlines()) == 1 and not out.exists()
    code = main(["verify", str(design), "--rung", "cpu-xs", "--device", "tpu"])
    err = capsys.readouterr().err
    assert code == 2 and "--device" in err and not out.exists(), err
