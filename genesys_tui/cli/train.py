"""``genesys train DESIGN --rung R``: pretrain a design at a rung of the ladder and report bpb.

Progress goes to stderr as a bar (one line per tenth of the run when stderr is not a terminal);
the result goes to stdout, as text or, with ``--json``, as one JSON object. Exit status 1 when
the run diverged.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, TextIO


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="pretrain a design at a rung of the ladder; report bpb",
        description="Pretrain DESIGN at a rung of the ladder, then score held-out "
        "text (validation loss, bits per byte).",
    )
    p.add_argument("design", help="a design directory or the name of a library design")
    p.add_argument(
        "--rung",
        required=True,
        help="rung name (cpu-xs, cpu-s8, cpu-s, cpu-m, 14M, ..., 350M, or one of --ladder's)",
    )
    p.add_argument(
        "--ladder",
        default=None,
        help="cpu, paper or a ladder TOML file (default: find --rung in both built-in ladders)",
    )
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument(
        "--out", default=None, help="directory for the checkpoint (default: runs/<design>/<rung>)"
    )
    p.add_argument(
        "--resume", default=None, metavar="CKPT", help="continue the run saved in this checkpoint"
    )
    p.add_argument(
        "--max-steps",
        type=int,
        default=0,
        metavar="N",
        help="stop after N steps in all; the schedule still plans the whole rung, so "
        "--resume continues along the same curve",
    )
    p.add_argument(
        "--checkpoint-every",
        type=int,
        default=0,
        metavar="N",
        help="also save a checkpoint every N steps",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    p.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "bf16"],
        help="auto: bf16 autocast on CUDA, float32 on CPU",
    )
    p.add_argument("--compile", action="store_true", help="torch.compile the model (GPU)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    data = p.add_argument_group("data (default: the embedded English corpus)")
    data.add_argument(
        "--files",
        default=None,
        metavar="PATH",
        help="train on local .txt/.jsonl files: a directory or a glob",
    )
    data.add_argument(
        "--hf",
        default=None,
        metavar="DATASET",
        help="train on a Hugging Face dataset (needs the network or its cache)",
    )
    data.add_argument("--hf-config", default=None, help="the dataset's configuration")
    data.add_argument("--text-field", default="text", help="the field that holds the text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import torch

    from genesys_tui.design import load_design
    from genesys_tui.errors import ConfigError
    from genesys_tui.ladder import find_rung
    from genesys_tui.verify.corpus import CorpusSource
    from genesys_tui.verify.train import TrainSettings, train

    if args.threads:
        torch.set_num_threads(args.threads)
    design = load_design(args.design)
    rung = find_rung(args.rung, args.ladder)
    source = None
    if args.files and args.hf:
        raise ConfigError("give --files or --hf, not both")
    if args.files:
        source = CorpusSource(kind="files", path=args.files, text_field=args.text_field)
    elif args.hf:
        source = CorpusSource(
            kind="hf", name=args.hf, config=args.hf_config, text_field=args.text_field
        )
    settings = TrainSettings(
        seed=args.seed,
        device=args.device,
        precision=args.precision,
        compile=args.compile,
        max_steps=args.max_steps,
        checkpoint_every=args.checkpoint_every,
    )
    out = Path(args.out) if args.out else Path("runs") / design.name / rung.name
    bar = ProgressBar(sys.stderr)
    result = train(
        design,
        rung,
        settings=settings,
        source=source,
        out_dir=out,
        resume=args.resume,
        on_progress=bar.update,
    )
    bar.close()
    data = result.to_dict()
    if args.json:
        print(json.dumps(data))
    else:
        print(_summary(data))
    return 1 if result.stopped else 0


def _summary(d: dict[str, Any]) -> str:
    c = d["config"]
    lines = [
        f"{d['design']} at rung {d['rung']}: d_model {c['d_model']}, n_layers "
        f"{c['n_layers']}, {d['params']:,} parameters ({d['non_embedding_params']:,} "
        f"non-embedding), tokenizer {d['tokenizer']}",
        f"trained {d['steps']} steps, {d['tokens']:,} tokens, "
        f"{d['tokens_per_second']:,.0f} tokens/s, {d['wall_seconds']:.1f} s in all",
    ]
    if d["stopped"]:
        lines.append(f"stopped early: {d['stopped']}")
    else:
        lines.append(f"final training loss {d['final_loss']:.4f}")
    if d["bpb"] is not None:
        lines.append(
            f"held-out: val_loss {d['val_loss']:.4f} nats/token, bpb {d['bpb']:.4f} bits/byte"
        )
    if d["checkpoint"]:
        lines.append(f"checkpoint: {d['checkpoint']}")
    return "\n".join(lines)


class ProgressBar:
    """A one-line progress bar on a terminal; on anything else, a line per tenth of the run."""

    WIDTH = 28

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.shown_tenth = -1
        self.t0 = time.perf_counter()
        self.drawn = False

    def update(self, p: Any) -> None:
        """Draw a ``Progress`` event."""
        frac = p.step / max(1, p.total_steps)
        per_step = p.tokens / max(1, p.step)
        left = (p.total_steps - p.step) * per_step / max(p.tokens_per_second, 1e-9)
        text = (
            f"step {p.step}/{p.total_steps}  loss {p.loss:.3f}  lr {p.lr:.2e}  "
            f"{p.tokens_per_second:,.0f} tok/s  {_clock(p.elapsed)} < {_clock(left)}"
        )
        if self.tty:
            filled = int(frac * self.WIDTH)
            bar = "#" * filled + "." * (self.WIDTH - filled)
            self.stream.write(f"\r[{bar}] {text}\x1b[K")
            self.drawn = True
        else:
            tenth = int(frac * 10)
            if tenth == self.shown_tenth:
                return
            self.shown_tenth = tenth
            self.stream.write(f"{frac:4.0%} {text}\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def _clock(seconds: float) -> str:
    s = int(seconds)
    return (
        f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )
