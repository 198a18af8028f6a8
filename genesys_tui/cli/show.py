"""``genesys show DESIGN``: a design's unit tree with arguments."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from genesys_tui.cli._repo_args import add_repo_options, open_repo
from genesys_tui.describe import format_tree
from genesys_tui.errors import DesignError, GenesysError

if TYPE_CHECKING:
    from genesys_tui.store.repo import DesignsRepo


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("show", help="print a design's unit tree with its arguments")
    p.add_argument(
        "design",
        help="a design directory, the name of a library design, or a "
        "design in a designs repository (id, number or commit prefix)",
    )
    add_repo_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from genesys_tui.design import load_design
    from genesys_tui.resources import library_dir

    local = Path(args.design).is_dir() or (library_dir() / args.design).is_dir()
    if local and not (args.namespace or args.repo):
        print(format_tree(load_design(args.design)))
        return 0
    try:
        repo_cm = open_repo(args)
    except GenesysError as exc:
        raise DesignError(
            f"no such design directory or library design ({', '.join(_library_names())}); "
            f"to show a design of an evolution run, name its namespace: {exc}",
            args.design,
        ) from None
    with repo_cm as repo:
        print(format_repo_design(repo, args.design))
    return 0


def _library_names() -> list[str]:
    from genesys_tui.resources import library_designs

    return [p.name for p in library_designs()]


def format_repo_design(repo: DesignsRepo, design: str) -> str:
    """A committed design: its record, proposal, unit tree (if it loads) and results."""
    from genesys_tui.errors import DesignError

    r = repo.get(design)
    made = f"{r.origin} of {' x '.join(r.parents)}" if r.parents else r.origin
    lines = [
        f"{r.id}  [{r.status}]  {made}",
        f"commit {r.commit}  designer {r.designer}  "
        f"cost ${r.cost_usd:.4f}  compute {r.compute_s:.1f} s",
        "",
        r.title,
    ]
    summary = repo.summary(r.id)
    lines += ["", summary] if summary else []
    files = repo.read_design_files(r.id)
    if files.get("proposal.md", "").strip():
        lines += ["", "proposal.md:", *("  " + ln for ln in files["proposal.md"].splitlines())]
    lines.append("")
    try:
        lines.append(format_tree(repo.read_design(r.id)))
    except DesignError as exc:
        lines.append(f"the design does not load: {exc}")
        lines.append("files: " + ", ".join(sorted(files)))
    results = repo.results(r.id)
    lines += ["", "results:" if results else "results: none yet"]
    for kind, res in results.items():
        fields = {k: v for k, v in res.items() if k != "at"}
        lines.append(f"  {kind}: " + " ".join(f"{k}={v}" for k, v in fields.items()))
    if r.origin != "seed" and any("score" in s for s in r.rungs.values()):
        from genesys_tui.evolve.terms import format_terms, record_terms

        terms = record_terms(r, repo.records())
        lines += ["", "fitness terms (each term's share of the rung score; adds: over the "
                  "library seeds' mean, to the fitness):"]  # fmt: skip
        lines += ["  " + ln for ln in format_terms(terms).splitlines()]
    return "\n".join(lines)
