"""The trainer: loss falls, runs are seeded, resume is exact, divergence stops, checkpoints
rebuild their model alone, and ``genesys train`` reports the figures it promises."""

from __future__ import annotations

import json
import math
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from genesys_tui import ModelConfig, load_design
from genesys_tui.cli import main
from genesys_tui.ladder import Rung
from genesys_tui.verify.checkpoint import load_checkpoint, read_checkpoint
from genesys_tui.verify.corpus import CorpusSource
from genesys_tui.verify.train import (
    Divergence,
    Progress,
    TrainResult,
    TrainSettings,
    lr_at,
    train,
)
from tests.conftest import LIBRARY

SENTENCE = "the cat sat on a mat and saw one red dog run to the old tree by the river while"
WORDS = SENTENCE.split()


def write_corpus(root: Path, n_docs: int = 48) -> Path:
    """Seeded English-like documents, small enough to tokenize in a blink."""
    rng = random.Random(0)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n_docs):
        sentences = [
            " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 12))).capitalize() + "."
            for _ in range(rng.randint(10, 30))
        ]
        (root / f"doc{i:03d}.txt").write_text(" ".join(sentences) + "\n")
    return root


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    # At these sizes a second thread only adds synchronisation, and on a shared machine
    # OpenMP threads that spin-wait for a busy core make a step ten to twenty times slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[CorpusSource, Path]:
    """A local files corpus and a token cache shared by the tests of this module."""
    root = write_corpus(tmp_path_factory.mktemp("corpus"))
    return CorpusSource(
        kind="files", path=str(root), heldout_fraction=0.2
    ), tmp_path_factory.mktemp("tokens")


def tiny_rung(**overrides: object) -> Rung:
    fields: dict[str, object] = dict(
        name="tiny",
        d_model=32,
        n_layers=1,
        tokenizer="bytes",
        context_length=32,
        tokens=32 * 8 * 24,
        batch_size=8,
        micro_batch_size=4,
        lr=3e-3,
        min_lr=3e-4,
        warmup=0.1,
        eval_tokens=2048,
    )
    fields.update(overrides)
    return Rung(**fields)  # type: ignore[arg-type]


CONFIG = ModelConfig(d_model=32, n_layers=1, vocab_size=257, context_length=32)


def run(
    corpus: tuple[CorpusSource, Path], rung: Rung | None = None, **kwargs: object
) -> TrainResult:
    source, cache = corpus
    kwargs.setdefault("config", CONFIG)
    return train(
        load_design(LIBRARY / "gpt"), rung or tiny_rung(), source=source, cache_dir=cache, **kwargs
    )  # type: ignore[arg-type]


def weights(path: Path) -> dict[str, torch.Tensor]:
    return read_checkpoint(path)["model"]


def test_tiny_run_loss_falls_and_beats_uniform_guessing(corpus) -> None:
    events: list[Progress] = []
    result = run(corpus, on_progress=events.append)
    assert result.steps == 24 and result.tokens == 24 * 8 * 32 and result.stopped is None
    assert events[-1].loss < events[0].loss - 1.0
    assert result.val_loss is not None and result.bpb is not None
    assert result.val_loss < math.log(257) - 1.0  # a uniform guess costs ln 257 nats a token
    assert 0 < result.bpb < math.log2(257) - 1.0


def test_progress_events_count_steps_tokens_and_follow_the_schedule(corpus) -> None:
    events: list[Progress] = []
    rung = tiny_rung(tokens=32 * 8 * 6)
    run(corpus, rung, on_progress=events.append, settings=TrainSettings(evaluate=False))
    assert [e.step for e in events] == [1, 2, 3, 4, 5, 6]
    assert [e.tokens for e in events] == [256 * s for s in range(1, 7)]
    assert [e.lr for e in events] == [lr_at(s, rung) for s in range(6)]
    assert all(e.total_steps == 6 and e.tokens_per_second > 0 for e in events)


@pytest.mark.parametrize("dropout", [0.0, 0.1], ids=["no-dropout", "dropout-0.1"])
def test_resume_reproduces_the_uninterrupted_run_bitwise(corpus, tmp_path, dropout) -> None:
    config = ModelConfig(d_model=32, n_layers=1, vocab_size=257, context_length=32, dropout=dropout)
    quiet = TrainSettings(evaluate=False, seed=3)
    straight = run(corpus, config=config, settings=quiet, out_dir=tmp_path / "a")
    first = run(
        corpus,
        config=config,
        settings=TrainSettings(evaluate=False, seed=3, max_steps=9),
        out_dir=tmp_path / "b",
    )
    assert first.steps == 9
    # A different seed in the settings must not matter: the checkpoint's seed wins.
    resumed = run(
        corpus,
        config=config,
        settings=TrainSettings(evaluate=False, seed=99),
        out_dir=tmp_path / "b",
        resume=tmp_path / "b" / "checkpoint.pt",
    )
    assert resumed.steps == straight.steps == 24
    assert resumed.final_loss == straight.final_loss
    a, b = weights(tmp_path / "a" / "checkpoint.pt"), weights(tmp_path / "b" / "checkpoint.pt")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    opt_a = read_checkpoint(tmp_path / "a" / "checkpoint.pt")["optimizer"]["state"]
    opt_b = read_checkpoint(tmp_path / "b" / "checkpoint.pt")["optimizer"]["state"]
    assert all(torch.equal(opt_a[i]["exp_avg_sq"], opt_b[i]["exp_avg_sq"]) for i in opt_a)


def test_same_seed_same_weights_other_seed_other_weights(corpus, tmp_path) -> None:
    rung = tiny_rung(tokens=32 * 8 * 3)
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        run(
            corpus, rung, settings=TrainSettings(evaluate=False, seed=seed), out_dir=tmp_path / name
        )
    a, b, c = (weights(tmp_path / n / "checkpoint.pt") for n in "abc")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_a_diverging_run_stops_early_with_its_reason(corpus, tmp_path) -> None:
    rung = tiny_rung(lr=50.0, min_lr=50.0, warmup=0.0, tokens=32 * 8 * 60)
    result = run(corpus, rung, out_dir=tmp_path)
    assert result.stopped is not None and result.stopped.startswith("diverged")
    assert result.steps < 60
    assert result.bpb is None and result.checkpoint is None


@pytest.mark.parametrize(
    ("losses", "stops_at"),
    [
        ([5.0, 4.0, float("nan")], 3),
        ([5.6, 9.0, 9.0, 9.0], 4),
        ([5.6, 9.0, 5.0, 9.0, 9.0], None),
        ([5.6, 5.0, 4.0, 3.0], None),
    ],
    ids=["nan", "three-steps-high", "recovers-in-between", "healthy"],
)
def test_divergence_watch(losses: list[float], stops_at: int | None) -> None:
    watch = Divergence(vocab_size=257, margin=1.0, patience=3)  # starts at ln 257 = 5.55
    stopped = [s for s, loss in enumerate(losses, 1) if watch.reason(s, loss)]
    assert (stopped[0] if stopped else None) == stops_at


@pytest.mark.parametrize("warmup", [0.0, 0.1, 0.5], ids=["no-warmup", "warmup-10pc", "warmup-50pc"])
def test_lr_warms_up_linearly_then_decays_by_cosine_to_min_lr(warmup: float) -> None:
    rung = tiny_rung(tokens=32 * 8 * 40, warmup=warmup)
    lrs = [lr_at(s, rung) for s in range(rung.steps)]
    w = rung.warmup_steps
    assert lrs[:w] == pytest.approx([rung.lr * (s + 1) / (w + 1) for s in range(w)])
    assert lrs[w] == pytest.approx(rung.lr) and lrs[-1] == pytest.approx(rung.min_lr)
    assert all(a >= b for a, b in zip(lrs[w:], lrs[w + 1 :], strict=False))


def test_checkpoint_rebuilds_the_model_alone(corpus, tmp_path) -> None:
    design_dir = tmp_path / "gpt-copy"
    shutil.copytree(LIBRARY / "gpt", design_dir)
    source, cache = corpus
    result = train(
        load_design(design_dir),
        tiny_rung(tokens=32 * 8 * 2),
        source=source,
        cache_dir=cache,
        config=CONFIG,
        out_dir=tmp_path / "run",
        settings=TrainSettings(evaluate=False),
    )
    shutil.rmtree(design_dir)  # the checkpoint carries design.json and every unit source
    assert result.checkpoint is not None
    model, meta = load_checkpoint(result.checkpoint)
    assert (meta.design.name, meta.config, meta.tokenizer, meta.rung.name, meta.step) == (
        "gpt",
        CONFIG,
        "bytes",
        "tiny",
        2,
    )
    assert not model.training
    state = weights(result.checkpoint)
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["checkpoint.pt"]  # no temp left


def test_resume_refuses_another_design(corpus, tmp_path) -> None:
    from genesys_tui.errors import VerifyError

    run(
        corpus,
        tiny_rung(tokens=32 * 8 * 2),
        settings=TrainSettings(evaluate=False),
        out_dir=tmp_path,
    )
    other = load_design(LIBRARY / "gpt").to_dict()
    other["units"]["mlp"]["args"] = {"expand": 2}
    from genesys_tui.design import design_from_dict

    design = design_from_dict(other, load_design(LIBRARY / "gpt").sources)
    source, cache = corpus
    with pytest.raises(VerifyError, match="differs"):
        train(
            design,
            tiny_rung(tokens=32 * 8 * 2),
            source=source,
            cache_dir=cache,
            resume=tmp_path / "checkpoint.pt",
        )


def test_cli_train_json_reports_the_promised_fields(corpus, tmp_path, capsys) -> None:
    source, _ = corpus
    ladder = tmp_path / "tiny.toml"
    ladder.write_text(
        '[tiny]\n[[tiny.rungs]]\nname = "t-xs"\nd_model = 32\nn_layers = 1\n'
        'tokenizer = "bytes"\ncontext_length = 32\ntokens = 1024\nbatch_size = 8\n'
        "eval_tokens = 512\n"
    )
    code = main(
        [
            "train",
            str(LIBRARY / "gpt"),
            "--rung",
            "t-xs",
            "--ladder",
            str(ladder),
            "--files",
            source.path,
            "--out",
            str(tmp_path / "out"),
            "--json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    for key in (
        "rung",
        "params",
        "non_embedding_params",
        "tokens",
        "steps",
        "val_loss",
        "bpb",
        "tokens_per_second",
        "wall_seconds",
        "checkpoint",
    ):
        assert key in out, key
    assert (out["rung"], out["steps"], out["tokens"]) == ("t-xs", 4, 1024)
    assert out["bpb"] > 0 and Path(out["checkpoint"]).is_file()
    assert out["config"]["d_model"] == 32 and out["config"]["n_layers"] == 1


def test_evaluation_scores_the_first_eval_tokens_of_validation_in_whole_windows(corpus) -> None:
    from genesys_tui import build_lm
    from genesys_tui.verify.batches import eval_batches
    from genesys_tui.verify.metrics import evaluate, evaluate_split
    from genesys_tui.verify.token_cache import load_tokens

    source, cache = corpus
    rung = tiny_rung(eval_tokens=100)  # 3 whole windows of 32: the budget is never overshot
    model = build_lm(load_design(LIBRARY / "gpt"), CONFIG, seed=0)
    got = evaluate_split(model, rung, source, cache)
    split = load_tokens("validation", "bytes", source, cache)
    x, y = next(eval_batches(split, 3, 32))
    want = evaluate(model, [(x, y)], split.token_bytes)
    assert got.tokens == 96 and got == want


def test_trainer_benchmark_reports_throughputs_and_trains_on_text_only(corpus) -> None:
    from genesys_tui.bench.trainer import compare

    source, cache = corpus
    bench = compare(
        load_design(LIBRARY / "gpt"), tiny_rung(), steps=3, rounds=1, source=source, cache_dir=cache
    )
    assert bench.trainer_tokens_per_second > 0 and bench.minimal_tokens_per_second > 0
    assert bench.ratio == bench.trainer_tokens_per_second / bench.minimal_tokens_per_second
    assert bench.cpu_ratio > 0 and len(bench.trainer_rounds) == len(bench.minimal_rounds) == 1
    assert 0 <= bench.data_share < 1
    assert bench.padding_share == 0.0 and 0 <= bench.separator_share < 0.1
    assert bench.text_share + bench.separator_share == pytest.approx(1.0)


def test_bf16_autocast_trains_with_a_float32_loss(corpus) -> None:
    # The GPU path's precision, run on the CPU: weights stay float32, the loss is finite.
    result = run(corpus, tiny_rung(tokens=32 * 8 * 6), settings=TrainSettings(precision="bf16"))
    assert result.stopped is None and math.isfinite(result.final_loss)
    assert result.val_loss is not None and result.val_loss < math.log(257) + 0.5


def test_too_little_held_out_text_is_refused_before_training_naming_the_split(tmp_path) -> None:
    from genesys_tui.errors import VerifyError

    # one real document (it lands in one split) and many empty ones: the other split is empty
    root = write_corpus(tmp_path / "corpus", n_docs=1)
    for i in range(40):
        (root / f"empty{i:02d}.txt").write_text("")
    source = CorpusSource(kind="files", path=str(root), heldout_fraction=0.2)
    steps: list[object] = []
    with pytest.raises(VerifyError, match=r"the (train|validation) split of the files in .*"
                       r"fewer than one window") as info:  # fmt: skip
        train(load_design(LIBRARY / "gpt"), tiny_rung(), config=CONFIG, source=source,
              cache_dir=tmp_path / "cache", on_progress=steps.append)  # fmt: skip
    assert steps == []  # refused before the first step
    assert "give more text" in str(info.value)
