"""``genesys study noise DESIGN --rung R --seeds K``: how much a rung's figures move between
training seeds. Exit 2 for bad input (fewer than 2 seeds, an unknown design or rung), before
anything is trained or written. ``genesys study climb`` verifies a namespace's designs at a
rung; ``genesys study fidelity --namespace NS --rungs A B`` compares how two rungs rank them
(exit 2, nothing written, for an unknown namespace or rung or too few shared designs), and
``--runs A.json B.json`` does it by the designs' means over training seeds in two stored files;
``genesys study halving --namespace NS --rung R`` measures what stopping losers early inside a
rung would cost, from the recorded loss curves. ``genesys study compare CANDIDATE.json --against
FILE...`` compares stored multi-seed results (exit 2 for a missing or malformed file, an unknown
baseline or a rung without a measured sigma). ``genesys study designers NS_A NS_B`` sets two
loop runs' grown designs side by side at equal hours (exit 2 for the same namespace twice, an
unknown one, one without loop events or no rung both verified grown designs at). ``genesys
study surrogate NS... --rung R`` measures how well the learning designer's surrogate predicts
each grown design from the designs made before it (exit 2 for an unknown namespace or a rung
without grown designs' scores)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "study",
        help="studies of the ladder: noise between seeds, climbs to a rung, rung fidelity",
        description="Studies of the ladder itself. `noise` trains one design with K training "
        "seeds (initialisation and data order both change) and reports each seed's held-out "
        "bits per byte, task accuracies and rung score, then their mean and standard deviation. "
        "`climb` verifies a namespace's designs at a rung; `fidelity` rank-correlates two "
        "rungs' results over the designs that hold both; `halving` measures, from the "
        "recorded loss curves, how well the loss part-way through a rung ranks its finished "
        "results (what stopping losers early would cost); `compare` tests whether one design's "
        "mean score over several training seeds beats other designs' above the rung's noise; "
        "`designers` sets two loop runs' grown designs side by side at equal hours; "
        "`surrogate` measures how well the learning designer's surrogate predicts each grown "
        "design from those made before it.",
    )
    studies = p.add_subparsers(dest="study", metavar="STUDY", required=True)
    noise = studies.add_parser("noise", help="the spread of one design's results over seeds")
    noise.add_argument(
        "design", help="a design directory, a library design's name, or with --namespace an id"
    )
    noise.add_argument(
        "--namespace", default=None, help="study the design with this id in designs/<namespace>/"
    )
    noise.add_argument("--rung", required=True, help="cpu-xs, cpu-s, ... (see train)")
    noise.add_argument("--seeds", type=int, default=3, help="training seeds K (>= 2; default 3)")
    noise.add_argument("--first-seed", type=int, default=0, help="seeds run from this one")
    noise.add_argument("--ladder", default="cpu", help="cpu, paper or a ladder TOML file")
    noise.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    noise.add_argument("--no-sandbox", action="store_true",
                       help="train without the bubblewrap wall (not recommended)")  # fmt: skip
    noise.add_argument("--out", default=None, help="also write the study's JSON to this file")
    noise.add_argument("--json", action="store_true", help="print the study as JSON")
    noise.set_defaults(func=run_noise)

    compare = studies.add_parser(
        "compare", help="a design's mean score over K seeds against other designs' (z, paired)"
    )
    compare.add_argument(
        "candidate", help="the candidate's noise study (study noise --out), or a pooled file "
        "with --design",
    )  # fmt: skip
    compare.add_argument(
        "--design", default=None, metavar="NAME",
        help="the candidate in its file, where the file holds several designs",
    )  # fmt: skip
    compare.add_argument(
        "--against", nargs="+", required=True, metavar="FILE",
        help="noise studies or pooled noise files holding the baselines (a design in several "
        "is merged over its training seeds, the later file's run of a seed winning)",
    )  # fmt: skip
    compare.add_argument(
        "--designs", nargs="*", default=[], metavar="NAME",
        help="the baselines to compare with (default: every design in the files)",
    )  # fmt: skip
    compare.add_argument(
        "--sigma", type=float, default=None,
        help="the rung score's noise (default: the ladder's score_sigma)",
    )  # fmt: skip
    compare.add_argument("--ladder", default="cpu", help="the ladder whose score_sigma to use")
    compare.add_argument("--out", default=None, help="also write the comparison's JSON here")
    compare.add_argument("--json", action="store_true", help="print the comparison as JSON")
    compare.set_defaults(func=run_compare)

    climb = studies.add_parser(
        "climb", help="verify a namespace's designs at one rung and attach the results"
    )
    climb.add_argument("--namespace", required=True, help="designs/<namespace>/ holds the designs")
    climb.add_argument("--rung", required=True, help="the rung to verify at (any ladder's)")
    climb.add_argument("--ladder", default="cpu", help="cpu, paper or a ladder TOML file")
    climb.add_argument("--designs", nargs="*", default=[], help="design ids (default: all checked)")
    climb.add_argument("--seed", type=int, default=0, help="training seed")
    climb.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    climb.add_argument("--no-sandbox", action="store_true",
                       help="verify without the bubblewrap wall (not recommended)")  # fmt: skip
    climb.set_defaults(func=run_climb)

    fidelity = studies.add_parser(
        "fidelity", help="how two rungs rank the designs of a namespace that hold both"
    )
    source = fidelity.add_mutually_exclusive_group(required=True)
    source.add_argument("--namespace", help="designs/<namespace>/ to read (with --rungs)")
    source.add_argument(
        "--runs", nargs=2, metavar="FILE",
        help="two noise studies or pooled files, one rung each: rank the designs both hold by "
        "their means over training seeds (the rungs are the files')",
    )  # fmt: skip
    fidelity.add_argument(
        "--rungs", nargs=2, metavar=("A", "B"), help="the two rungs to compare (--namespace)"
    )
    _add_bootstrap_options(fidelity)
    fidelity.set_defaults(func=run_fidelity)

    designers = studies.add_parser(
        "designers", help="two loop runs' grown designs side by side, at equal hours"
    )
    # (a positional's metavar must be one string: Python 3.11's help cannot format a tuple)
    designers.add_argument("namespaces", nargs=2, metavar="NS",
                           help="two runs' namespaces, A then B (B compared with A)")  # fmt: skip
    designers.add_argument(
        "--hours", type=float, default=None,
        help="compare the first H hours of loop time of each (default: the shorter run's)",
    )  # fmt: skip
    designers.add_argument("--rung", default=None, help="only this rung (default: every rung)")
    _add_bootstrap_options(designers)
    designers.set_defaults(func=run_designers)

    surrogate = studies.add_parser(
        "surrogate", help="how well the learning designer's surrogate predicts unseen designs"
    )
    surrogate.add_argument("namespaces", nargs="+", metavar="NS", help="the runs to predict")
    surrogate.add_argument("--rung", required=True, help="the rung whose scores to predict")
    surrogate.add_argument("--prior", nargs="*", default=[], metavar="NS",
                           help="earlier runs it also learns from (learning:NS)")  # fmt: skip
    _add_bootstrap_options(surrogate)
    surrogate.set_defaults(func=run_surrogate)

    halving = studies.add_parser(
        "halving", help="what stopping losers early inside a rung costs in fidelity (curves)"
    )
    halving.add_argument("--namespace", required=True, help="designs/<namespace>/ to read")
    halving.add_argument("--rung", required=True, help="the rung whose loss curves to read")
    halving.add_argument(
        "--fractions", nargs="+", type=float, default=None,
        help="where to stop, as fractions of the rung's steps (default 0.125 0.25 0.5 0.75)",
    )  # fmt: skip
    _add_bootstrap_options(halving)
    halving.set_defaults(func=run_halving)


def _add_bootstrap_options(parser: argparse.ArgumentParser) -> None:
    """The options of the studies that rank designs with bootstrap intervals."""
    parser.add_argument(
        "--bootstrap", type=int, default=2000, help="bootstrap resamples (>= 100; default 2000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
    parser.add_argument("--out", default=None, help="also write the study's JSON to this file")
    parser.add_argument("--json", action="store_true", help="print the study as JSON")


def run_noise(args: argparse.Namespace) -> int:
    from genesys_tui import wall
    from genesys_tui.study.noise import SeedRun, format_study, run_noise_study

    wall.configure(sandbox=not args.no_sandbox)  # unavailable: exit 2 once the input is read

    def show(r: SeedRun) -> None:
        print(
            f"seed {r.seed}: bpb {r.bpb:.4f}, score {r.score:.4f} ({r.seconds:.0f} s)",
            file=sys.stderr,
            flush=True,
        )

    study = run_noise_study(
        args.design, args.rung, args.seeds, ladder=args.ladder, first_seed=args.first_seed,
        threads=args.threads, namespace=args.namespace, on_run=show,
    )  # fmt: skip
    return _report(args, study, format_study)


def run_compare(args: argparse.Namespace) -> int:
    from genesys_tui.study.compare import compare, format_compare, load_inputs, sigma_of

    candidate, baselines = load_inputs(args.candidate, args.against, args.designs, args.design)
    if args.sigma is not None:
        sigma, source = args.sigma, "--sigma"
    else:
        sigma = sigma_of(candidate.rung, args.ladder)
        source = f"{candidate.rung}'s score_sigma in ladder {args.ladder}"
    return _report(args, compare(candidate, baselines, sigma, sigma_from=source), format_compare)


def run_climb(args: argparse.Namespace) -> int:
    from genesys_tui import wall
    from genesys_tui.ladder import load_ladder
    from genesys_tui.results import RungResult
    from genesys_tui.store import DesignsRepo, namespace_path
    from genesys_tui.study.climb import climb, climb_targets

    load_ladder(args.ladder).rung(args.rung)  # ConfigError (exit 2) before anything opens
    wall.configure(sandbox=not args.no_sandbox)
    wall.current()  # SandboxUnavailable (exit 2) without bubblewrap or --no-sandbox
    path = namespace_path(args.namespace)
    with DesignsRepo.open(path) as repo:
        todo, done = climb_targets(repo, args.rung, args.designs)
    print(f"{len(todo)} to verify at {args.rung}, {len(done)} done already", file=sys.stderr)

    def show(design_id: str, r: RungResult) -> None:
        figure = f"bpb {r.bpb:.4f}, score {r.scores.get('score', 0.0):.4f}" if r.ok else r.reason
        print(f"{design_id}: {figure} ({r.seconds:.0f} s)", flush=True)

    climb(path, args.rung, args.designs, ladder=args.ladder, seed=args.seed,
          threads=args.threads, on_result=show)  # fmt: skip
    return 0


def run_fidelity(args: argparse.Namespace) -> int:
    from genesys_tui.errors import ConfigError
    from genesys_tui.study.fidelity import (
        format_fidelity,
        run_fidelity_study,
        run_runs_fidelity_study,
    )

    if args.runs:
        if args.rungs:
            raise ConfigError("--rungs goes with --namespace; with --runs the files name them")
        study = run_runs_fidelity_study(*args.runs, resamples=args.bootstrap, seed=args.seed)
    elif not args.rungs:
        raise ConfigError("--namespace needs --rungs A B: the two rungs to compare")
    else:
        rung_a, rung_b = args.rungs
        study = run_fidelity_study(
            args.namespace, rung_a, rung_b, resamples=args.bootstrap, seed=args.seed
        )
    return _report(args, study, format_fidelity)


def run_designers(args: argparse.Namespace) -> int:
    from genesys_tui.study.designers import format_designers, run_designers_study

    study = run_designers_study(*args.namespaces, hours=args.hours, rung=args.rung,
                                resamples=args.bootstrap, seed=args.seed)  # fmt: skip
    return _report(args, study, format_designers)


def run_surrogate(args: argparse.Namespace) -> int:
    from genesys_tui.study.surrogate import format_surrogate, run_surrogate_study

    study = run_surrogate_study(args.namespaces, args.rung, args.prior,
                                resamples=args.bootstrap, seed=args.seed)  # fmt: skip
    return _report(args, study, format_surrogate)


def run_halving(args: argparse.Namespace) -> int:
    from genesys_tui.study.halving import DEFAULT_FRACTIONS, format_halving, run_halving_study

    study = run_halving_study(
        args.namespace, args.rung, args.fractions or DEFAULT_FRACTIONS,
        resamples=args.bootstrap, seed=args.seed,
    )  # fmt: skip
    return _report(args, study, format_halving)


def _report(args: argparse.Namespace, study: Any, table: Callable[[Any], str]) -> int:
    """Write a study to ``--out`` if asked and print it, as JSON or as ``table`` (with --json, a
    ranking study's warning goes to stderr, since the table would have said it)."""
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(study.to_json(), encoding="utf-8")
    if args.json and getattr(study, "warning", ""):
        print(f"warning: {study.warning}", file=sys.stderr)
    print(study.to_json() if args.json else table(study))
    return 0
