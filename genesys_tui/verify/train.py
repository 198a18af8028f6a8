"""The trainer: one plain loop that pretrains a design at a rung and scores it on held-out text.

AdamW, linear warmup then cosine decay, global-norm gradient clipping, gradient accumulation,
bf16 autocast and optional ``torch.compile`` on GPU. Seeded: the same design, rung and seed give
the same weights, and a run resumed from its checkpoint continues exactly as if never stopped
(bitwise on CPU in float32). A run whose loss turns NaN or explodes stops early with the reason,
instead of burning its budget. Progress goes to a callback as ``Progress`` events.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genesys_tui.config import ModelConfig
from genesys_tui.design import Design
from genesys_tui.errors import ConfigError, VerifyError
from genesys_tui.ladder import Rung, size_design
from genesys_tui.units.lm import LanguageModel, build_lm
from genesys_tui.verify.batches import BatchSampler
from genesys_tui.verify.checkpoint import (
    check_resumable,
    meta_of,
    read_checkpoint,
    restore_state,
    save_checkpoint,
)
from genesys_tui.verify.corpus import CorpusSource
from genesys_tui.verify.metrics import Evaluation, evaluate_split
from genesys_tui.verify.token_cache import TokenSplit, load_tokens

CHECKPOINT_NAME = "checkpoint.pt"
PRECISIONS = ("auto", "fp32", "bf16")


@dataclass(frozen=True)
class TrainSettings:
    """How to run a rung: everything that is not the rung's own budget."""

    seed: int = 0  # model init, batch sampling and dropout all derive from it
    device: str = "auto"  # "auto" (cuda if present, else cpu), "cpu", "cuda", "cuda:1", ...
    precision: str = "auto"  # "auto" (bf16 autocast on cuda, fp32 elsewhere), "fp32", "bf16"
    compile: bool = False  # torch.compile the model (GPU; first steps pay the compile time)
    max_steps: int = 0  # stop once this many steps are done in all (0: the rung's full run);
    # the schedule still plans the full run, so a stopped run resumes into the same curve
    checkpoint_every: int = 0  # steps between checkpoints (0: only at the end)
    progress_every: int = 1  # steps between progress events
    evaluate: bool = True  # score held-out text at the end (val_loss, bpb)
    diverge_margin: float = 1.0  # nats above the starting loss that count as exploding
    diverge_patience: int = 5  # consecutive exploding steps before the run is stopped

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ConfigError(
                f"TrainSettings.precision must be one of {PRECISIONS}, got {self.precision!r}"
            )
        for name in ("max_steps", "checkpoint_every", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"TrainSettings.{name} must be an integer >= 0, got {value!r}")
        for name in ("progress_every", "diverge_patience"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"TrainSettings.{name} must be a positive integer, got {value!r}")
        if not isinstance(self.diverge_margin, (int, float)) or self.diverge_margin <= 0:
            raise ConfigError(
                f"TrainSettings.diverge_margin must be > 0, got {self.diverge_margin!r}"
            )


@dataclass(frozen=True)
class Progress:
    """One progress event, sent after an optimiser step."""

    step: int  # optimiser steps done
    total_steps: int  # steps the run plans
    tokens: int  # training tokens consumed
    loss: float  # training loss of this step, nats per token
    lr: float  # learning rate this step used
    tokens_per_second: float  # training throughput of this session so far
    elapsed: float  # seconds since this session started

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class TrainResult:
    """What a run did and how well the model it left predicts held-out text."""

    design: str
    rung: str
    config: ModelConfig  # the size the design was trained at
    tokenizer: str
    params: int  # all parameters (the tied embedding counted once)
    non_embedding_params: int
    steps: int  # optimiser steps done, resumed ones included
    tokens: int  # training tokens consumed, resumed ones included
    final_loss: float  # training loss of the last step
    val_loss: float | None  # held-out nats per token (None: not evaluated, or diverged)
    bpb: float | None  # held-out bits per byte
    tokens_per_second: float  # training throughput of this session
    wall_seconds: float  # this session, start to finish, evaluation included
    data_seconds: float  # of which spent drawing batches
    checkpoint: Path | None  # the checkpoint written last, if any
    stopped: str | None  # why the run stopped before its planned steps (diverged); None if not

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["config"] = dataclasses.asdict(self.config)
        out["checkpoint"] = str(self.checkpoint) if self.checkpoint else None
        return out


def lr_at(step: int, rung: Rung) -> float:
    """Learning rate of optimiser step ``step`` (0-based): linear warmup from ``lr/(w+1)`` to
    ``lr`` over the rung's warmup steps ``w``, then cosine decay to ``min_lr`` at the last step."""
    warmup, total = rung.warmup_steps, rung.steps
    if step < warmup:
        return rung.lr * (step + 1) / (warmup + 1)
    progress = (step - warmup) / max(1, total - 1 - warmup)
    cosine = 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return rung.min_lr + cosine * (rung.lr - rung.min_lr)


def make_optimizer(model: nn.Module, rung: Rung, device: torch.device) -> torch.optim.AdamW:
    """AdamW with decay on matrices only: norms' gains and biases are scales and offsets, and
    pulling them to zero fights what they are for."""
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    rest = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": rung.weight_decay},
        {"params": rest, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(
        groups, lr=rung.lr, betas=(0.9, 0.95), eps=1e-8, fused=device.type == "cuda"
    )


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"TrainSettings.device {name!r}: no CUDA device here; use cpu")
    return device


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """bf16 autocast where asked for (``auto``: on CUDA); None means plain float32."""
    if precision == "bf16" or (precision == "auto" and device.type == "cuda"):
        return torch.bfloat16
    return None


class Divergence:
    """Watches the loss: stops a run whose loss is NaN/inf, or that has stayed more than
    ``margin`` nats above where it started (``max(first loss, ln V)``, the loss of guessing
    uniformly) for ``patience`` steps: it has unlearned everything and will not come back."""

    def __init__(self, vocab_size: int, margin: float, patience: int) -> None:
        self.floor = math.log(vocab_size)
        self.margin, self.patience = margin, patience
        self.start: float | None = None
        self.high = 0

    def reason(self, step: int, loss: float) -> str | None:
        if not math.isfinite(loss):
            return f"diverged: the training loss became {loss} at step {step}"
        if self.start is None:
            self.start = max(loss, self.floor)
        self.high = self.high + 1 if loss > self.start + self.margin else 0
        if self.high >= self.patience:
            return (
                f"diverged: the training loss exploded to {loss:.3g} at step {step}, above "
                f"its starting {self.start:.3g} nats for {self.high} steps; lower the rung's "
                "learning rate or check the design's initialisation"
            )
        return None


def _data_and_size(
    design: Design,
    rung: Rung,
    config: ModelConfig | None,
    source: CorpusSource | None,
    cache_dir: str | Path | None,
    held_out: bool = True,
) -> tuple[TokenSplit, ModelConfig]:
    """The training split (with ``held_out``, the held-out one is checked now, not after the
    run) and the size to train at: ``config``, or the design sized to the rung. Without
    ``held_out`` the validation split is not opened at all: a walled verification's cell
    cannot see it (the auditor scores it)."""
    splits = {"train": load_tokens("train", rung.tokenizer, source, cache_dir)}
    if held_out:  # scored at the end
        splits["validation"] = load_tokens("validation", rung.tokenizer, source, cache_dir)
    _check_enough_text(splits, rung, source)
    train_split = splits["train"]
    vocab = len(train_split.token_bytes)
    config = config or size_design(design, rung, vocab)
    if config.vocab_size < vocab or config.context_length < rung.context_length:
        raise ConfigError(
            f"model config {config} is too small for rung {rung.name!r} "
            f"(vocabulary {vocab}, context {rung.context_length})"
        )
    return train_split, config


def _optimizer_step(
    runner: Callable[[torch.Tensor], torch.Tensor],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    sampler: BatchSampler,
    rung: Rung,
    lr: float,
    amp: torch.dtype | None,
) -> tuple[float, float]:
    """One optimiser step over ``rung.grad_accum`` micro-batches at learning rate ``lr``;
    return the step's mean training loss and the seconds spent drawing batches."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    loss_sum = torch.zeros((), device=next(model.parameters()).device)
    waited = 0.0
    for _ in range(rung.grad_accum):
        t_data = time.perf_counter()
        x, y = sampler.sample()  # (B, T) each
        waited += time.perf_counter() - t_data
        device_type = x.device.type
        with torch.autocast(device_type, dtype=amp) if amp else contextlib.nullcontext():
            logits = runner(x)  # (B, T, V)
        # The loss in float32 even under autocast: a bf16 log-softmax over V loses bits.
        loss = F.cross_entropy(logits.float().flatten(0, 1), y.flatten())
        (loss / rung.grad_accum).backward()
        loss_sum += loss.detach()
    if rung.grad_clip > 0:
        nn.utils.clip_grad_norm_(model.parameters(), rung.grad_clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return float(loss_sum) / rung.grad_accum, waited  # one sync a step; the watch needs it


def train(
    design: Design,
    rung: Rung,
    *,
    settings: TrainSettings | None = None,
    config: ModelConfig | None = None,
    source: CorpusSource | None = None,
    out_dir: str | Path | None = None,
    resume: str | Path | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    cache_dir: str | Path | None = None,
) -> TrainResult:
    """Pretrain ``design`` at ``rung`` on ``source`` (default: the embedded corpus).

    ``config`` defaults to ``size_design(design, rung)``. With ``out_dir``, a checkpoint
    ``out_dir/checkpoint.pt`` is written every ``settings.checkpoint_every`` steps and at the
    end. ``resume`` continues from a checkpoint of the same design, size and rung; its seed
    wins over ``settings.seed``. Seeds the global torch generator (dropout draws from it).
    Raises VerifyError on a checkpoint that does not match; a diverged run is not an error:
    its result says why in ``stopped``.
    """
    t0 = time.perf_counter()
    settings = settings or TrainSettings()
    device = resolve_device(settings.device)
    payload = read_checkpoint(resume) if resume is not None else None
    if payload is not None:
        design, config, settings = _resumed(payload, str(resume), design, rung, config, settings)
    train_split, config = _data_and_size(design, rung, config, source, cache_dir,
                                         settings.evaluate)  # fmt: skip
    model, optimizer, sampler = _build(design, config, rung, train_split, settings.seed, device)
    step, tokens, final_loss = 0, 0, float("nan")
    if payload is not None:
        step, tokens = restore_state(payload, model, optimizer, sampler)
    runner = torch.compile(model) if settings.compile else model
    amp = autocast_dtype(settings.precision, device)
    stop_at = min(rung.steps, settings.max_steps or rung.steps)
    watch = Divergence(config.vocab_size, settings.diverge_margin, settings.diverge_patience)
    out = Path(out_dir) if out_dir is not None else None
    checkpoint: Path | None = None

    def save() -> Path | None:  # the run's state now, where out_dir asks for it
        return _save(out, model, design, config, rung, step, tokens, settings, optimizer,
                     sampler, time.perf_counter() - t0) if out is not None else None  # fmt: skip

    stopped: str | None = None
    data_seconds, session_tokens = 0.0, 0
    t_train = time.perf_counter()
    model.train()
    while step < stop_at:
        lr = lr_at(step, rung)
        final_loss, waited = _optimizer_step(runner, model, optimizer, sampler, rung, lr, amp)
        data_seconds += waited
        step += 1
        tokens += rung.tokens_per_step
        session_tokens += rung.tokens_per_step
        stopped = watch.reason(step, final_loss)
        due = step % settings.progress_every == 0 or step == stop_at or stopped
        if on_progress is not None and due:
            now = time.perf_counter()
            rate = session_tokens / max(now - t_train, 1e-9)
            on_progress(Progress(step, rung.steps, tokens, final_loss, lr, rate, now - t0))
        if stopped:
            break
        if settings.checkpoint_every and step % settings.checkpoint_every == 0 and step < stop_at:
            checkpoint = save()
    train_seconds = time.perf_counter() - t_train
    evaluation: Evaluation | None = None
    if not stopped:
        checkpoint = save() or checkpoint
        if settings.evaluate:
            evaluation = evaluate_split(model, rung, source, cache_dir, device, amp)
    return TrainResult(
        design.name, rung.name, config, rung.tokenizer, model.num_params(),
        model.num_params(non_embedding=True), step, tokens, final_loss,
        val_loss=evaluation.loss if evaluation else None,
        bpb=evaluation.bpb if evaluation else None,
        tokens_per_second=session_tokens / max(train_seconds, 1e-9),
        wall_seconds=time.perf_counter() - t0, data_seconds=data_seconds,
        checkpoint=checkpoint, stopped=stopped,
    )  # fmt: skip


def _build(
    design: Design, config: ModelConfig, rung: Rung, split: TokenSplit, seed: int,
    device: torch.device,
) -> tuple[LanguageModel, torch.optim.Optimizer, BatchSampler]:  # fmt: skip
    """The seeded model, its optimiser and the batch sampler of a run."""
    torch.manual_seed(seed)
    model = build_lm(design, config, seed=seed).to(device)
    # Batches come from their own generator, so model code drawing random numbers cannot shift
    # the data a run sees.
    sampler = BatchSampler(split, rung.micro, rung.context_length, seed=seed + 1, device=device)
    return model, make_optimizer(model, rung, device), sampler


def _save(
    out: Path, model: LanguageModel, design: Design, config: ModelConfig, rung: Rung, step: int,
    tokens: int, settings: TrainSettings, optimizer: torch.optim.Optimizer,
    sampler: BatchSampler, elapsed: float,
) -> Path:  # fmt: skip
    """Write the run's checkpoint into ``out`` (see verify/checkpoint.py); return its path."""
    return save_checkpoint(
        out / CHECKPOINT_NAME, model=model, design=design, config=config,
        tokenizer=rung.tokenizer, rung=rung, step=step, tokens=tokens, seed=settings.seed,
        optimizer=optimizer, sampler=sampler.state_dict(),
        settings=dataclasses.asdict(settings), elapsed=elapsed,
    )  # fmt: skip


def _resumed(
    payload: dict[str, Any],
    where: str,
    design: Design,
    rung: Rung,
    config: ModelConfig | None,
    settings: TrainSettings,
) -> tuple[Design, ModelConfig, TrainSettings]:
    """What a resumed run trains: the checkpoint's design, size and seed, once they are shown
    to match what the caller asked for (VerifyError otherwise)."""
    meta = meta_of(payload, where)
    check_resumable(meta.design, design, meta.rung, rung, meta.config, config)
    return meta.design, meta.config, dataclasses.replace(settings, seed=meta.seed)


def _check_enough_text(
    splits: dict[str, TokenSplit], rung: Rung, source: CorpusSource | None
) -> None:
    """VerifyError naming the split when one holds less than one window of the rung."""
    need = rung.context_length + 1
    for name, split in splits.items():
        have = len(split.tokens)
        if have < need:
            label = (
                f"the files in {source.path}" if source is not None and source.kind == "files"
                else f"Hugging Face dataset {source.name}" if source is not None
                and source.kind == "hf" else "the embedded corpus"
            )  # fmt: skip
            raise VerifyError(
                f"the {name} split of {label} has {have} tokens with tokenizer "
                f"{rung.tokenizer!r}, fewer than one window of rung {rung.name!r} "
                f"(context + 1 = {need}): give more text (each .txt file and each .jsonl line "
                "is one document, and documents are split by document between train and "
                "held-out), or a rung with a shorter context"
            )
