"""Our model behind lm-eval: scores come from the trained weights of a checkpoint, equal a direct
computation with the model, and do not depend on batching; greedy generation; the registry."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from genesys_tui import ModelConfig, load_design
from genesys_tui.errors import VerifyError
from genesys_tui.ladder import Rung
from genesys_tui.units.lm import build_lm
from genesys_tui.verify.checkpoint import load_checkpoint, save_checkpoint
from genesys_tui.verify.corpus import CorpusSource
from genesys_tui.verify.evals.evaluate import run_taskset
from genesys_tui.verify.evals.lm_model import GenesysLM, weights_sha256
from genesys_tui.verify.evals.tasks import TaskSet, choice_task, pair_rows, write_task
from genesys_tui.verify.tokenizer import load_tokenizer
from genesys_tui.verify.train import TrainSettings, train
from tests.conftest import LIBRARY

NOUNS = [("dog", "dogs"), ("cat", "cats"), ("bird", "birds"), ("girl", "girls")]
VERBS = [("runs", "run"), ("sees", "see"), ("eats", "eat"), ("sings", "sing")]


def sentence(rng: random.Random, plural: bool) -> str:
    noun, verb = rng.choice(NOUNS)[plural], rng.choice(VERBS)[plural]
    return f"The {noun} {verb}."


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


RUNG = Rung(
    name="tiny-eval", d_model=32, n_layers=1, tokenizer="bytes", context_length=32,
    tokens=32 * 16 * 30, batch_size=16, lr=1e-2, min_lr=1e-3, warmup=0.1, eval_tokens=1024,
)  # fmt: skip


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(untrained, trained) checkpoints of a tiny GPT; trained on agreeing sentences."""
    rng = random.Random(0)
    root = tmp_path_factory.mktemp("agree")
    for i in range(40):
        text = " ".join(sentence(rng, rng.random() < 0.5) for _ in range(60))
        (root / f"doc{i:02d}.txt").write_text(text + "\n")
    source = CorpusSource(kind="files", path=str(root), heldout_fraction=0.1)
    design = load_design(LIBRARY / "gpt")
    out = tmp_path_factory.mktemp("run")
    result = train(
        design, RUNG, settings=TrainSettings(seed=0), source=source, out_dir=out,
        cache_dir=tmp_path_factory.mktemp("cache"),
    )  # fmt: skip
    assert result.checkpoint is not None
    config = ModelConfig(d_model=32, n_layers=1, vocab_size=257, context_length=32)
    _, meta = load_checkpoint(result.checkpoint)
    untrained = save_checkpoint(
        out / "untrained.pt", model=build_lm(design, meta.config, seed=0), design=design,
        config=meta.config, tokenizer="bytes", rung=RUNG, step=0, tokens=0, seed=0,
    )  # fmt: skip
    assert meta.config.vocab_size >= config.vocab_size
    return untrained, result.checkpoint


def direct_logprob(model: torch.nn.Module, text: str) -> float:
    """log p(text | end-of-text) with the model itself, no lm-eval involved."""
    tok = load_tokenizer("bytes")
    ids = [tok.eot_id, *tok.encode(text)]
    with torch.no_grad():
        logp = F.log_softmax(model(torch.tensor([ids])).float(), dim=-1)[0]
    return float(sum(logp[i, ids[i + 1]] for i in range(len(ids) - 1)))


def agreement_task(tmp: Path, n: int = 24) -> TaskSet:
    rng = random.Random(1)
    pairs = []
    for i in range(n):
        plural = i % 2 == 1
        noun, verb = rng.choice(NOUNS), rng.choice(VERBS)
        pairs.append(
            (f"The {noun[plural]} {verb[plural]}.", f"The {noun[plural]} {verb[1 - plural]}.")
        )
    write_task(tmp, choice_task("agree", tmp / "agree.jsonl"), pair_rows(pairs, 0, "agree"))
    return TaskSet(("agree",), tmp, {})


def test_scores_come_from_the_trained_weights(checkpoints: tuple[Path, Path], tmp_path: Path):
    untrained, trained = checkpoints
    taskset = agreement_task(tmp_path)
    before = run_taskset(GenesysLM(checkpoint=untrained, device="cpu"), taskset, log_samples=True)
    after = run_taskset(GenesysLM(checkpoint=trained, device="cpu"), taskset, log_samples=True)
    assert before.weights_sha256 != after.weights_sha256
    assert after.weights_sha256 == weights_sha256(load_checkpoint(trained)[0])
    lls_before = [d["loglikelihoods"] for d in before.samples["agree"]]
    lls_after = [d["loglikelihoods"] for d in after.samples["agree"]]
    assert lls_before != lls_after
    # training on such sentences made them likelier
    assert sum(map(sum, lls_after)) > sum(map(sum, lls_before)) + 24 * 2 * 5


def test_loglikelihoods_equal_a_direct_computation(checkpoints: tuple[Path, Path], tmp_path: Path):
    _, trained = checkpoints
    model, _ = load_checkpoint(trained)
    report = run_taskset(GenesysLM(checkpoint=trained, device="cpu"), agreement_task(tmp_path, 6),
                         log_samples=True)  # fmt: skip
    right = 0
    for sample in report.samples["agree"]:
        doc = sample["doc"]
        direct = [direct_logprob(model, " " + c) for c in doc["choices"]]
        torch.testing.assert_close(sample["loglikelihoods"], direct, rtol=0, atol=1e-4)
        right += int(max(range(2), key=lambda i: direct[i]) == doc["label"])
    assert report.accuracy["agree"] == pytest.approx(right / 6)


@pytest.mark.parametrize("batch_size", [1, 3, 64], ids=["B1", "B3", "B64"])
def test_batching_and_padding_do_not_change_scores(checkpoints: tuple[Path, Path], batch_size):
    _, trained = checkpoints
    model, _ = load_checkpoint(trained)
    texts = ["The dog runs.", " The cats see the birds.", "A", "The girls eat."]
    tok = load_tokenizer("bytes")
    lm = GenesysLM(checkpoint=trained, device="cpu", batch_size=batch_size)
    reqs = [(("", t), [tok.eot_id], tok.encode(t)) for t in texts]
    got = [ll for ll, _ in lm._loglikelihood_tokens(reqs)]
    torch.testing.assert_close(got, [direct_logprob(model, t) for t in texts], rtol=0, atol=1e-4)


def test_rolling_loglikelihood_covers_every_token_once(checkpoints: tuple[Path, Path]):
    _, trained = checkpoints
    model, _ = load_checkpoint(trained)
    lm = GenesysLM(checkpoint=trained, device="cpu")

    class Req:
        args = ("The dogs run. The cat sees.",)

    got = lm.loglikelihood_rolling([Req()])[0]
    assert got == pytest.approx(direct_logprob(model, Req.args[0]), abs=1e-4)
    long = "The dogs run. " * 8  # longer than the 32-token context: several windows
    Req.args = (long,)
    windows = lm.loglikelihood_rolling([Req()])[0]
    assert windows < 0 and windows == pytest.approx(windows)


def greedy_text(model: torch.nn.Module, context: str, n: int) -> str:
    tok = load_tokenizer("bytes")
    ids = tok.encode(context)
    with torch.no_grad():
        for _ in range(n):
            ids.append(int(model(torch.tensor([ids]))[0, -1].argmax()))
    return tok.decode(ids[len(tok.encode(context)) :])


def test_greedy_generation_follows_argmax_and_stops(checkpoints: tuple[Path, Path]):
    _, trained = checkpoints
    model, _ = load_checkpoint(trained)
    lm = GenesysLM(checkpoint=trained, device="cpu")
    free = greedy_text(model, "The dog", 6)
    stop = greedy_text(model, "The cat", 10)[3:5]  # a stop string the model will produce

    class Req:
        def __init__(self, ctx: str, kw: dict):
            self.args = (ctx, kw)

    out = lm.generate_until([Req("The dog", {"until": ["\n\n\n"], "max_gen_toks": 6}),
                             Req("The cat", {"until": [stop], "max_gen_toks": 10})])  # fmt: skip
    assert out[0] == free.split("\n\n\n")[0]
    assert out[1] == greedy_text(model, "The cat", 10).split(stop)[0] and len(out[1]) <= 3


def test_no_weights_no_model():
    with pytest.raises(VerifyError, match="trained weights"):
        GenesysLM()


def test_registered_in_lm_eval_and_built_from_an_arg_string(checkpoints: tuple[Path, Path]):
    from lm_eval.api.registry import get_model

    _, trained = checkpoints
    cls = get_model("genesys")
    lm = cls.create_from_arg_string(f"checkpoint={trained}", {"batch_size": "4", "device": "cpu"})
    assert isinstance(lm, GenesysLM) and lm.batch_size == 4 and lm.max_length == 32


# ------------------------------------------------------------------------------------ CLI


def test_genesys_eval_prints_accuracies_of_the_checkpoint(checkpoints, capsys, monkeypatch):
    from genesys_tui.cli import main

    asked: list[int] = []
    set_threads = torch.set_num_threads
    monkeypatch.setattr(torch, "set_num_threads", lambda n: (asked.append(n), set_threads(n)))

    _, trained = checkpoints
    code = main(["eval", str(trained), "--tasks", "genblimp_a_an", "--pairs", "20", "--json",
                 "--threads", "1"])  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and 0.0 <= out["evals"]["genblimp_a_an"] <= 1.0
    assert out["weights_sha256"] == weights_sha256(load_checkpoint(trained)[0])
    assert asked == [1]  # --threads, as train, verify and bench have it


def test_genesys_lm_eval_is_lm_evals_cli_with_our_model(checkpoints, tmp_path, capsys):
    from genesys_tui.cli import main

    _, trained = checkpoints
    agreement_task(tmp_path / "tasks")
    # no --device: CUDA when present, else the CPU, as in the rest of Genesys
    code = main([
        "lm-eval", "run", "--model", "genesys", "--model_args", f"checkpoint={trained}",
        "--tasks", "agree", "--include_path", str(tmp_path / "tasks"),
    ])  # fmt: skip
    assert code == 0
    assert "agree" in capsys.readouterr().out


def test_lm_eval_on_a_task_folder_written_by_genesys_eval(checkpoints, tmp_path, capsys):
    from genesys_tui.cli import main

    _, trained = checkpoints
    tasks = str(tmp_path / "evaltasks")
    run = ["lm-eval", "run", "--model", "genesys", "--model_args", f"checkpoint={trained}"]
    assert main([*run, "--tasks", "genblimp_a_an", "--include_path", tasks]) == 2
    err = capsys.readouterr().err
    assert "no task folder" in err and "--tasks-dir" in err and "Traceback" not in err
    assert main(["eval", str(trained), "--tasks", "genblimp_a_an", "--pairs", "10",
                 "--tasks-dir", tasks]) == 0  # fmt: skip
    capsys.readouterr()
    assert main([*run, "--tasks", "genblimp_a_an", "--include_path", tasks]) == 0
    assert "genblimp_a_an" in capsys.readouterr().out
    assert main([*run, "--tasks", "genblimp_sva_pp", "--include_path", tasks]) == 2
    assert "genblimp_sva_pp" in capsys.readouterr().err
