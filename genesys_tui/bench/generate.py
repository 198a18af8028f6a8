"""Generation speed: cached decoding against recomputing the prefix, per library design.

    python -m genesys_tui.bench.generate                       # every design, batch 1 and 8
    python -m genesys_tui.bench.generate --designs gpt mamba2 --new-tokens 128 --json out.json

For each design and batch size one untrained model (d_model 256, 4 blocks, vocabulary 4096: the
size of the CPU ladder's upper rungs) continues a ``--prompt``-token prompt by ``--new-tokens``
greedy tokens twice, with its ``DecodeCache`` and by recomputation, back to back in one process,
and checks that both give the same tokens. Printed: tokens per second of each, their ratio, and
for the cached run the median time per token over the first and the last 64 new tokens (flat
means each token costs the same however long the text has grown).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from genesys_tui.config import ModelConfig
from genesys_tui.units.contract import DecodeCache, Scaffold

SIZE = ModelConfig(d_model=256, n_layers=4, vocab_size=4096, context_length=576)
DESIGNS = ("gpt", "mamba2", "retnet", "rwkv7", "ttt")
EDGE = 64  # tokens at each end of the generation whose per-token times are compared


@dataclass(frozen=True)
class GenerationRow:
    design: str
    batch: int
    cached_tps: float  # new tokens per second (all sequences of the batch), with the cache
    recompute_tps: float  # the same, recomputing the prefix for every token
    speedup: float  # cached over recompute
    first_ms: float  # cached: median milliseconds per step over the first EDGE new tokens
    last_ms: float  # ... and over the last EDGE
    same_tokens: bool  # both ways generated the same tokens


@torch.no_grad()
def _run(
    model: Scaffold, prompt: torch.Tensor, new: int, cached: bool
) -> tuple[torch.Tensor, list[float]]:
    """Greedy ``new`` tokens after ``prompt``; (all tokens, seconds of each step)."""
    cache = DecodeCache() if cached else None
    out, step_in, times = prompt, prompt, []
    for _ in range(new):
        t0 = time.perf_counter()
        logits = model(step_in, cache) if cached else model(out)
        nxt = logits[:, -1].argmax(-1, keepdim=True)
        times.append(time.perf_counter() - t0)
        out = torch.cat([out, nxt], dim=1)
        step_in = nxt
    return out, times


def measure(
    design_name: str, batch: int, prompt_len: int, new: int, seed: int = 0
) -> GenerationRow:
    from genesys_tui.design import load_design
    from genesys_tui.resources import library_dir
    from genesys_tui.units.lm import build_lm

    config = ModelConfig(
        d_model=SIZE.d_model, n_layers=SIZE.n_layers, vocab_size=SIZE.vocab_size,
        context_length=prompt_len + new,
    )  # fmt: skip
    model = build_lm(load_design(library_dir() / design_name), config, seed=seed).eval()
    gen = torch.Generator().manual_seed(seed)
    prompt = torch.randint(0, config.vocab_size, (batch, prompt_len), generator=gen)
    _run(model, prompt[:, :8], 4, True)  # warm both paths' kernels
    _run(model, prompt[:, :8], 4, False)
    cached, t_cached = _run(model, prompt, new, True)
    plain, t_plain = _run(model, prompt, new, False)
    # The first step runs the whole prompt either way: speed counts the steps after it.
    tps_cached = batch * (new - 1) / sum(t_cached[1:])
    tps_plain = batch * (new - 1) / sum(t_plain[1:])
    edge = min(EDGE, (new - 1) // 2)
    return GenerationRow(
        design=design_name, batch=batch, cached_tps=tps_cached, recompute_tps=tps_plain,
        speedup=tps_cached / tps_plain,
        first_ms=1000 * statistics.median(t_cached[1 : 1 + edge]),
        last_ms=1000 * statistics.median(t_cached[-edge:]),
        same_tokens=bool(torch.equal(cached, plain)),
    )  # fmt: skip


def format_table(rows: list[GenerationRow]) -> str:
    lines = [
        f"{'design':<8} {'batch':>5} {'cached tok/s':>12} {'recompute tok/s':>15} "
        f"{'speedup':>8} {'first ms':>9} {'last ms':>8} {'same':>5}"
    ]
    for r in rows:
        lines.append(
            f"{r.design:<8} {r.batch:>5} {r.cached_tps:>12.1f} {r.recompute_tps:>15.1f} "
            f"{r.speedup:>7.1f}x {r.first_ms:>9.2f} {r.last_ms:>8.2f} {r.same_tokens!s:>5}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--designs", nargs="+", default=list(DESIGNS), choices=DESIGNS)
    p.add_argument("--batch", nargs="+", type=int, default=[1, 8])
    p.add_argument("--prompt", type=int, default=64, help="prompt tokens")
    p.add_argument("--new-tokens", type=int, default=512, help="tokens to generate")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = p.parse_args(argv)
    if args.new_tokens < 3 or args.prompt < 1 or min(args.batch) < 1:
        p.error("--new-tokens must be at least 3, --prompt and --batch at least 1")
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    for name in args.designs:
        for batch in args.batch:
            rows.append(measure(name, batch, args.prompt, args.new_tokens))
            print(format_table(rows[-1:]).splitlines()[-1], flush=True)
    print()
    print(format_table(rows))
    if args.json is not None:
        meta = {
            "prompt": args.prompt, "new_tokens": args.new_tokens,
            "threads": torch.get_num_threads(),
            "size": asdict(SIZE) | {"context_length": args.prompt + args.new_tokens},
            "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        }  # fmt: skip
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps({**meta, "rows": [asdict(r) for r in rows]}, indent=2) + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
