"""Our trainer against a minimal hand-written loop: same model, data and recipe, same process.

The minimal loop is what one writes by hand for the same recipe (AdamW with nanoGPT's decay
groups, gradient clipping, gradient accumulation) with every batch already in memory: the bare
arithmetic. Our trainer adds batch sampling from the memmap stream, the learning-rate schedule,
the divergence watch (one loss read-back a step) and progress events; the ratio of the two
throughputs is what those cost.
Rounds alternate between the two loops, so drift in the machine's speed hits both alike, and the
median of each side's rounds is reported.

Also reported: the share of the trainer's step time spent drawing batches, and the make-up of
the tokens it trains on (document text, end-of-text separators, padding).

Run: ``python -m genesys_tui.bench.trainer --rung cpu-s --steps 8 --rounds 5 [--json]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from genesys_tui.config import ModelConfig
from genesys_tui.design import Design, load_design
from genesys_tui.ladder import Rung, find_rung, size_design
from genesys_tui.units.lm import build_lm
from genesys_tui.verify.batches import BatchSampler
from genesys_tui.verify.corpus import CorpusSource
from genesys_tui.verify.token_cache import TokenSplit, load_tokens
from genesys_tui.verify.train import TrainSettings, train


@dataclasses.dataclass(frozen=True)
class TrainerBench:
    """Figures of one comparison. Throughputs are medians over rounds, in tokens/s, from the end
    of each round's first step to the end of its last (the first step pays one-off warm-up);
    ``cpu`` figures divide by the process's CPU time instead of the clock, which is what a
    machine shared with other jobs can still measure steadily (run with one thread)."""

    design: str
    rung: str
    config: ModelConfig
    steps: int  # optimiser steps per round
    rounds: int
    threads: int
    trainer_tokens_per_second: float
    minimal_tokens_per_second: float
    ratio: float  # trainer / minimal, wall clock
    trainer_cpu_tokens_per_second: float
    minimal_cpu_tokens_per_second: float
    cpu_ratio: float  # trainer / minimal, CPU time
    data_share: float  # median share of the trainer's step time spent drawing batches
    text_share: float  # trained target tokens that are document text
    separator_share: float  # trained target tokens that are end-of-text between documents
    padding_share: float  # trained target tokens that are padding (none: nothing pads)
    trainer_rounds: tuple[float, ...]  # wall-clock tokens/s of each round
    minimal_rounds: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["config"] = dataclasses.asdict(self.config)
        return out


Marks = list[tuple[float, float]]  # (clock, process CPU time) after each optimiser step


def _mark(marks: Marks) -> None:
    marks.append((time.perf_counter(), time.process_time()))


def _rates(marks: Marks, tokens_per_step: int) -> tuple[float, float]:
    """Wall-clock and CPU tokens/s between the first and the last mark."""
    tokens = (len(marks) - 1) * tokens_per_step
    return tokens / (marks[-1][0] - marks[0][0]), tokens / (marks[-1][1] - marks[0][1])


def minimal_loop(
    design: Design,
    config: ModelConfig,
    rung: Rung,
    batches: Sequence[tuple[torch.Tensor, ...]],
    marks: Marks,
) -> None:
    """Train a fresh model on ``batches`` (``grad_accum`` micro-batches a step) with the plainest
    loop, marking the time after each step."""
    model = build_lm(design, config, seed=0)
    # nanoGPT's grouping, the same as the trainer's: decay matrices, not gains and biases
    params = list(model.parameters())
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": rung.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=rung.lr, betas=(0.9, 0.95))
    model.train()
    accum = rung.grad_accum
    for i in range(0, len(batches), accum):
        for x, y in batches[i : i + accum]:
            logits = model(x)
            loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
            (loss / accum).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), rung.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        _mark(marks)


def token_make_up(
    split: TokenSplit, batches: Sequence[tuple[torch.Tensor, ...]]
) -> dict[str, float]:
    """Shares of target tokens that are text, end-of-text separators and padding.

    A separator is an end-of-text whose predecessor in the stream is not one; anything else that
    covers no bytes would be padding (the packed stream has none: this measures it).
    """
    table = torch.as_tensor(split.token_bytes)
    text = sep = pad = 0
    for x, y in batches:
        covers = table[y] > 0
        separator = (y == split.eot_id) & (x != split.eot_id)  # x[:, t] precedes y[:, t]
        text += int(covers.sum())
        sep += int(separator.sum())
        pad += int((~covers & ~separator).sum())
    total = text + sep + pad
    return {"text": text / total, "separator": sep / total, "padding": pad / total}


def compare(
    design: Design,
    rung: Rung,
    *,
    steps: int = 8,
    rounds: int = 5,
    source: CorpusSource | None = None,
    cache_dir: str | Path | None = None,
) -> TrainerBench:
    """Alternate ``rounds`` rounds of ``steps`` steps (at least 2) between our trainer and the
    minimal loop, after one unrecorded warm-up round each, and report the medians."""
    if steps < 2:
        raise ValueError("the benchmark times steps 2..N of a round: give steps >= 2")
    split = load_tokens("train", rung.tokenizer, source, cache_dir)
    config = size_design(design, rung, len(split.token_bytes))
    short = dataclasses.replace(rung, tokens=steps * rung.tokens_per_step)
    sampler = BatchSampler(split, rung.micro, rung.context_length, seed=1)  # the trainer's seed
    batches = [sampler.sample() for _ in range(steps * rung.grad_accum)]
    settings = TrainSettings(evaluate=False, device="cpu")
    rates: dict[str, list[tuple[float, float]]] = {"trainer": [], "minimal": []}
    data_share: list[float] = []

    def run_trainer(record: bool) -> None:
        marks: Marks = []
        result = train(
            design,
            short,
            settings=settings,
            config=config,
            source=source,
            cache_dir=cache_dir,
            on_progress=lambda _: _mark(marks),
        )
        if record:
            rates["trainer"].append(_rates(marks, rung.tokens_per_step))
            data_share.append(result.data_seconds * result.tokens_per_second / result.tokens)

    def run_minimal(record: bool) -> None:
        marks: Marks = []
        minimal_loop(design, config, short, batches, marks)
        if record:
            rates["minimal"].append(_rates(marks, rung.tokens_per_step))

    run_trainer(False)
    run_minimal(False)
    for r in range(rounds):
        pair = (run_trainer, run_minimal) if r % 2 == 0 else (run_minimal, run_trainer)
        for fn in pair:
            fn(True)
    make_up = token_make_up(split, batches)
    wall = {k: statistics.median(w for w, _ in v) for k, v in rates.items()}
    cpu = {k: statistics.median(c for _, c in v) for k, v in rates.items()}
    return TrainerBench(
        design=design.name,
        rung=rung.name,
        config=config,
        steps=steps,
        rounds=rounds,
        threads=torch.get_num_threads(),
        trainer_tokens_per_second=wall["trainer"],
        minimal_tokens_per_second=wall["minimal"],
        ratio=wall["trainer"] / wall["minimal"],
        trainer_cpu_tokens_per_second=cpu["trainer"],
        minimal_cpu_tokens_per_second=cpu["minimal"],
        cpu_ratio=cpu["trainer"] / cpu["minimal"],
        data_share=statistics.median(data_share),
        text_share=make_up["text"],
        separator_share=make_up["separator"],
        padding_share=make_up["padding"],
        trainer_rounds=tuple(w for w, _ in rates["trainer"]),
        minimal_rounds=tuple(w for w, _ in rates["minimal"]),
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m genesys_tui.bench.trainer", description=__doc__)
    p.add_argument("design", nargs="?", default="gpt")
    p.add_argument("--rung", default="cpu-s")
    p.add_argument("--ladder", default=None)
    p.add_argument("--steps", type=int, default=8, help="optimiser steps per round")
    p.add_argument("--rounds", type=int, default=5, help="timed rounds per loop")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    bench = compare(
        load_design(args.design),
        find_rung(args.rung, args.ladder),
        steps=args.steps,
        rounds=args.rounds,
    )
    if args.json:
        print(json.dumps(bench.to_dict()))
        return 0
    c = bench.config
    print(
        f"{bench.design} at {bench.rung} (d_model {c.d_model}, n_layers {c.n_layers}, "
        f"context {c.context_length}), {bench.steps} steps a round, median of {bench.rounds} "
        f"alternating rounds, {bench.threads} threads"
    )
    print(f"  our trainer   {bench.trainer_tokens_per_second:>10,.0f} tokens/s")
    print(f"  minimal loop  {bench.minimal_tokens_per_second:>10,.0f} tokens/s")
    print(f"  ratio         {bench.ratio:>10.3f}")
    print(
        f"  CPU time: trainer {bench.trainer_cpu_tokens_per_second:,.0f}, minimal "
        f"{bench.minimal_cpu_tokens_per_second:,.0f} tokens per CPU second, ratio "
        f"{bench.cpu_ratio:.3f}"
    )
    print(f"  data loading  {bench.data_share:>10.2%} of step time")
    print(
        f"  trained tokens: {bench.text_share:.2%} text, {bench.separator_share:.2%} "
        f"end-of-text separators, {bench.padding_share:.2%} padding"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
