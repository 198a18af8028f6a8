"""How well the learning designer's surrogate ranks what it has not seen (issue 14).

    genesys study surrogate NS [NS...] --rung R [--prior NS...] [--json] [--out FILE]

For each grown design of a namespace with a score at the rung, in the order the designs were
made, the surrogate (``evolve.learning``) is fit on the designs made before it (with the
results they have now, some of which arrived after it was made), plus the ``--prior`` runs'
designs, and predicts its score. Spearman's rho between the predictions and the scores, with a
bootstrap 95% interval, says whether its ranking of candidates is worth anything; a design
with fewer than ``MIN_RESULTS`` scores before it is not predicted (the designer would not have
ranked it either). From each design's ``proposal.md`` it also counts the learning designer's
choices: ranked by the surrogate, or proposed unranked. Read only; nothing is trained.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from genesys_tui.errors import ConfigError
from genesys_tui.evolve.learning import MIN_RESULTS, Example, fit_examples, read_examples
from genesys_tui.study.fidelity import study_namespace
from genesys_tui.study.ranks import Interval, bootstrap, spearman

SURROGATE_FORMAT = 1


@dataclass(frozen=True)
class Prediction:
    design: str
    predicted: float
    score: float


@dataclass(frozen=True)
class RunFit:
    """One namespace: its grown designs' predictions at the rung and the designer's choices."""

    namespace: str
    grown: int  # grown designs with a score at the rung
    predictions: tuple[Prediction, ...]
    rho: float | None
    interval: Interval | None
    ranked: int  # designs the learning designer chose by the surrogate
    unranked: int  # designs it proposed unranked (too few results, or exploring)


@dataclass(frozen=True)
class SurrogateStudy:
    rung: str
    prior: tuple[str, ...]
    runs: tuple[RunFit, ...]
    resamples: int
    seed: int
    format: int = SURROGATE_FORMAT

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def predictions(made: Sequence[tuple[Example, bool]], rung: str,
                prior: Sequence[Example] = ()) -> list[Prediction]:  # fmt: skip
    """``made``: (example, grown) in the order the designs were made. Each grown design with a
    score at ``rung``, predicted by a surrogate fit on ``prior`` and the examples before it;
    none while those hold fewer than MIN_RESULTS scores there."""
    out = []
    for i, (example, grown) in enumerate(made):
        if not grown or rung not in example.scores:
            continue
        before = [*prior, *(e for e, _ in made[:i])]
        if sum(rung in e.scores for e in before) < MIN_RESULTS:
            continue
        model = fit_examples(before, rung)
        out.append(Prediction(example.design, model.score(example.features), example.scores[rung]))
    return out


def read_run(path: Path) -> tuple[list[tuple[Example, bool]], int, int]:
    """A namespace's (example, grown) in the order its designs were made, and how many of its
    designs the learning designer chose ranked and unranked (``proposal.md``'s "Chosen")."""
    from genesys_tui.store import DesignsRepo

    with DesignsRepo.open(path) as repo:
        records = {r.id: r for r in repo.records()}
        examples = read_examples(repo, path.name)
        chosen = [repo.read_design_files(r.id).get("proposal.md", "").rpartition("## Chosen")[2]
                  for r in records.values() if r.origin != "seed"]  # fmt: skip
    made = sorted(((e, records[e.design].origin != "seed") for e in examples),
                  key=lambda pair: records[pair[0].design].seq)  # fmt: skip
    ranked = sum("ranked " in c for c in chosen)
    unranked = sum("unranked" in c for c in chosen)
    return made, ranked, unranked


def run_surrogate_study(namespaces: Sequence[str], rung: str, prior: Sequence[str] = (),
                        resamples: int = 2000, seed: int = 0) -> SurrogateStudy:  # fmt: skip
    """The study (read only). ConfigError for an unknown namespace, too few resamples, or a
    rung at which none of the namespaces has a grown design's score."""
    from genesys_tui.evolve.learning import read_prior

    paths = [study_namespace(ns, resamples) for ns in namespaces]
    earlier = [e for ns in prior for e in read_prior(Path(), [str(study_namespace(ns, resamples))])]
    runs = []
    for ns, path in zip(namespaces, paths, strict=True):
        made, ranked, unranked = read_run(path)
        got = predictions(made, rung, earlier)
        x, y = [p.predicted for p in got], [p.score for p in got]
        runs.append(RunFit(
            ns, sum(grown and rung in e.scores for e, grown in made), tuple(got),
            spearman(x, y) if len(got) >= 2 else None,
            bootstrap(x, y, resamples, seed)[0] if len(got) >= 3 else None, ranked, unranked,
        ))  # fmt: skip
    if not any(r.grown for r in runs):
        raise ConfigError(f"no grown design of {', '.join(namespaces)} has a score at {rung!r}")
    return SurrogateStudy(rung, tuple(prior), tuple(runs), resamples, seed)


def format_surrogate(study: SurrogateStudy) -> str:
    head = f"the surrogate's predictions at {study.rung}, each from the designs made before"
    if study.prior:
        head += f" and the earlier runs {', '.join(study.prior)}"
    lines = [head, f"{'namespace':<24} {'grown':>5} {'predicted':>9} {'rho':>7}  "
             f"{'95% interval':<17} {'ranked':>6} {'unranked':>8}"]  # fmt: skip
    for r in study.runs:
        rho = "-" if r.rho is None else f"{r.rho:+.3f}"
        ci = "-" if r.interval is None else f"[{r.interval.low:+.2f}, {r.interval.high:+.2f}]"
        lines.append(f"{r.namespace:<24} {r.grown:>5} {len(r.predictions):>9} {rho:>7}  "
                     f"{ci:<17} {r.ranked:>6} {r.unranked:>8}")  # fmt: skip
    lines.append("rho: Spearman's, predictions against the grown designs' scores; ranked / "
                 "unranked: the learning designer's choices (0 / 0 for other designers)")
    return "\n".join(lines)
