"""``genesys stats``: the designers' statistics for a namespace, as the seed paper reports them
(valid-design rate, attempts, cost and lines of code per design)."""

from __future__ import annotations

import argparse

from genesys_tui.cli._repo_args import add_repo_options, open_repo


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "stats",
        help="designer statistics: valid-design rate, attempts, cost and lines of code per design",
    )
    add_repo_options(p)
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--ladder", default="cpu", help="the run's ladder, for its rungs' noise")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from genesys_tui.agents.stats import by_designer, collect, format_table, to_json

    with open_repo(args) as repo:
        rows = by_designer(collect(repo))
        ladder = None if args.json else ladder_lines(repo, args.ladder)
    if args.json:
        print(to_json(rows))
        return 0
    if not rows or rows[-1].designs == 0:
        print("no designed designs yet (library seeds are not counted)")
    else:
        print(format_table(rows))
    print("\n" + "\n".join(ladder or []))
    return 0


def ladder_lines(repo, ladder: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Per rung of ``ladder`` the namespace reached: its noise sigma, the designs verified there,
    and how it ranks them against the next rung (Spearman's rho of the rung scores over the
    designs verified at both, once three share them)."""
    from genesys_tui.errors import ConfigError
    from genesys_tui.ladder import rung_sigmas
    from genesys_tui.results import rung_results
    from genesys_tui.study.fidelity import ENOUGH_DESIGNS, FEWEST_DESIGNS, shared_rows
    from genesys_tui.study.ranks import spearman

    sigmas = rung_sigmas(ladder)
    counts = dict.fromkeys(sigmas, 0)
    for record in repo.records():
        for rung, result in rung_results(repo.results(record.id)).items():
            if result.ok and rung in counts:
                counts[rung] += 1
    rungs = [r for r in sigmas if counts[r]]
    lines = ["rung      sigma  verified  ranks like the next rung (Spearman, rung scores)"]
    for i, rung in enumerate(rungs):
        sigma = f"{sigmas[rung]:.4f}" if sigmas[rung] else "-"
        fidelity = "-"
        if i + 1 < len(rungs):
            try:
                shared = shared_rows(repo, rung, rungs[i + 1])
            except ConfigError:
                shared = []
            if len(shared) >= FEWEST_DESIGNS:
                rho = spearman([r.score_a for r in shared], [r.score_b for r in shared])
                few = " (fewer than 8)" if len(shared) < ENOUGH_DESIGNS else ""
                fidelity = (f"{'undefined' if rho is None else f'{rho:+.2f}'} with "
                            f"{rungs[i + 1]} over {len(shared)} designs{few}")  # fmt: skip
        lines.append(f"{rung:<8} {sigma:>6}  {counts[rung]:>8}  {fidelity}")
    if not rungs:
        lines.append("(nothing verified yet)")
    lines.append("sigma: the rung score's seed-to-seed deviation; a design beats a seed only by "
                 "more than 2 sigma (`genesys study fidelity` for intervals)")  # fmt: skip
    return lines
