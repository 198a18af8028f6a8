"""``genesys eval CHECKPOINT --tasks ...``: accuracy of trained weights on lm-eval tasks.

Tasks: ``genblimp`` (our generated minimal pairs) or ``genblimp_<phenomenon>``, ``blimp_local``
or ``blimp_local_<paradigm>`` (real BLiMP from ``--blimp-dir``), any lm-eval task name (the
paper's: blimp, wnli, rte, winogrande, cola, sst2, wsc273, inverse_scaling_mc, mrpc; these need
the Hugging Face Hub), and the probes ``mqar`` and ``selective_copy`` (these train a tiny model of
the checkpoint's design from scratch: they judge the design, not the checkpoint's weights).
``--baselines`` adds the unigram and bigram models' scores on the same tasks.
"""

from __future__ import annotations

import argparse
import json

PROBE_NAMES = ("mqar", "selective_copy")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="score a checkpoint on lm-eval tasks (generated pairs, BLiMP, probes, hub tasks)",
        description=__doc__.split("\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("checkpoint", help="a checkpoint written by genesys train or genesys verify")
    p.add_argument(
        "--tasks", nargs="+", default=["genblimp"], help="task names (default: genblimp)"
    )
    p.add_argument("--blimp-dir", default=None, help="directory of BLiMP's jsonl files")
    p.add_argument("--pairs", type=int, default=1000, help="generated pairs per phenomenon")
    p.add_argument("--limit", type=int, default=None, help="at most N documents per task")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if present)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch CPU threads (0: torch's default); the probes' figures depend on it",
    )
    p.add_argument(
        "--tasks-dir",
        default=None,
        help="write the task files here and keep them (lm-eval's --include_path for them)",
    )
    p.add_argument("--baselines", action="store_true", help="also score unigram and bigram")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from genesys_tui.verify.checkpoint import load_checkpoint
    from genesys_tui.verify.evals.evaluate import evaluate
    from genesys_tui.verify.evals.lm_model import GenesysLM
    from genesys_tui.verify.evals.probes import ProbeSettings, run_probe

    if args.threads:
        torch.set_num_threads(args.threads)
    tasks = [t for t in args.tasks if t not in PROBE_NAMES]
    probes = [t for t in args.tasks if t in PROBE_NAMES]
    lm = GenesysLM(checkpoint=args.checkpoint, device=args.device, batch_size=args.batch_size)
    out: dict[str, object] = {"checkpoint": args.checkpoint, "weights_sha256": lm.weights_sha256}
    evals: dict[str, float] = {}
    if tasks:
        report = evaluate(
            lm, tasks, blimp_dir=args.blimp_dir, pairs=args.pairs, limit=args.limit,
            seed=args.seed, workdir=args.tasks_dir,
        )  # fmt: skip
        evals.update(report.accuracy)
        out["stderr"] = report.stderr
        out["seconds"] = round(report.seconds, 2)
    for name in probes:
        design = load_checkpoint(args.checkpoint)[1].design  # the checkpoint's own design
        evals[f"probe_{name}"] = run_probe(design, name, ProbeSettings(seed=args.seed)).accuracy
    out["evals"] = evals
    if args.baselines and tasks:
        from genesys_tui.verify.evals.baselines import NgramLM

        out["baselines"] = {
            name: evaluate(
                NgramLM(order), tasks, blimp_dir=args.blimp_dir, pairs=args.pairs,
                limit=args.limit, seed=args.seed,
            ).accuracy
            for name, order in (("unigram", 1), ("bigram", 2))
        }  # fmt: skip
    if args.json:
        print(json.dumps(out))
        return 0
    baselines = out.get("baselines", {})
    assert isinstance(baselines, dict)
    header = f"{'task':<52} {'acc':>6}" + "".join(f" {b:>8}" for b in baselines)
    print(header)
    for task, acc in evals.items():
        row = f"{task:<52} {acc:6.3f}"
        row += "".join(f" {baselines[b].get(task, float('nan')):8.3f}" for b in baselines)
        print(row)
    return 0
