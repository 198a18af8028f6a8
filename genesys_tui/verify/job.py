"""One verification in this process: train and evaluate a design at a rung and return what the
loop records (``RungResult.to_wire``). It runs the design's code, so it runs only inside a walled
cell (``verify.walled``), started by ``evolve.jobs.verify_host`` on the trusted side."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from genesys_tui.results import RungResult
from genesys_tui.verify.verify import TASKS_MIN_TOKENS  # a constant: the module imports no torch

#: Loss-curve points a rung result keeps (the dashboard's plot is narrower than this).
CURVE_POINTS = 256


def verify_job(
    design_dir: str,
    rung: str,
    ladder: str = "cpu",
    seed: int = 0,
    pairs: int = 0,
    tasks_min_tokens: int = TASKS_MIN_TOKENS,
    progress: Callable[[dict[str, Any]], None] | None = None,
    out_dir: str | None = None,
    evaluate_tasks: bool = True,
    evaluate_heldout: bool = True,
) -> dict[str, Any]:
    """Train and evaluate at ``rung`` in this process; the scores the loop records, with
    ``score`` among them (``RungResult.to_wire``). ``out_dir`` keeps the checkpoint there.
    ``evaluate_tasks`` False leaves the lm-eval tasks to the caller (the walled cell's auditor),
    ``evaluate_heldout`` False the held-out split too: the result then has no ``score`` nor
    ``bpb``, which the caller computes.

    The loop checked the design already, so the verifier does not check it again. This runs
    the design's code in the calling process: the loop calls ``verify_host`` instead, which
    runs this inside a walled cell and audits what comes back.
    """
    from genesys_tui.ladder import load_ladder
    from genesys_tui.verify.numerics import numerics
    from genesys_tui.verify.train import resolve_device
    from genesys_tui.verify.verify import VerifySettings, verify

    curve: list[tuple[int, float]] = []

    def on_progress(event: Any) -> None:
        to_dict = getattr(event, "to_dict", None)
        data = to_dict() if callable(to_dict) else dict(event)
        if "step" in data and "loss" in data:
            curve.append((int(data["step"]), float(data["loss"])))
        if progress is not None:
            progress(data)

    settings = VerifySettings(
        check=False,
        seed=seed,
        pairs=pairs,
        tasks_min_tokens=tasks_min_tokens,
        evaluate_tasks=evaluate_tasks,
        evaluate_heldout=evaluate_heldout,
    )
    result = verify(design_dir, load_ladder(ladder).rung(rung), settings, out_dir=out_dir,
                    on_progress=on_progress)  # fmt: skip
    scores: dict[str, float] = {}
    if result.ok and result.fitness is not None and result.bpb is not None:
        scores["score"] = float(result.fitness)
        scores["bpb"] = float(result.bpb)
        for task, acc in result.evals.items():
            scores[f"eval/{task}"] = float(acc)
    if result.ok and (scores or not evaluate_heldout):
        scores["tokens_per_second"] = float(result.tokens_per_second)
    return RungResult(
        ok=bool(result.ok and scores),
        scores=scores,
        seconds=float(sum(result.seconds.values())),
        tokens=int(result.tokens),
        params=int(result.params),
        evals=dict(result.evals),
        curve=tuple((int(s), loss) for s, loss in thin(curve)),
        notes=tuple(result.notes),
        reason=result.reason or "",
        numerics=numerics(str(resolve_device(settings.device))),  # where the trainer ran
    ).to_wire()


def thin(curve: list[tuple[int, float]], most: int = CURVE_POINTS) -> list[list[float]]:
    """At most ``most`` points of a loss curve, evenly spread, the first and last kept; NaN and
    infinite losses (a diverging run's last steps) are left out, as JSON cannot hold them."""
    points = [(s, loss) for s, loss in curve if math.isfinite(loss)]
    if len(points) > most:
        last = len(points) - 1
        points = [points[round(i * last / (most - 1))] for i in range(most)]
    return [[s, round(loss, 5)] for s, loss in points]
