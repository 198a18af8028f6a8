"""The jobs the loop hands to its runner. Each runs in a worker's child process, never in the
loop's (or the dashboard's) own: design code is untrusted until the checker passed it, and
training is heavy. Arguments and return values are plain JSON."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

FINGERPRINT_SHAPE = {"d_model": 32, "n_layers": 2, "vocab_size": 64, "context_length": 32}


def functional_fingerprint(design_dir: str) -> str:
    """Hash of the logits of the design, built at a tiny size with a fixed seed, on fixed input.

    Two designs that compute the same function from the same initial draw (a renamed unit, an
    argument no code reads, reformatted source) get the same fingerprint.
    """
    import torch

    from genesys_tui import ModelConfig, build_lm, load_design

    model = build_lm(load_design(design_dir), ModelConfig(**FINGERPRINT_SHAPE), seed=0)
    model = model.double().eval()
    ids = torch.randint(0, 64, (2, 24), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits = model(ids)
    # Rounded so that summation-order noise does not split one function into two.
    rounded = torch.round(logits * 1e6).to(torch.int64)
    return hashlib.sha256(rounded.numpy().tobytes()).hexdigest()


def check_job(design_dir: str, ladder: str = "cpu", rung: str | None = None) -> dict[str, Any]:
    """Run the checker; with a passing design, add its functional fingerprint."""
    from genesys_tui.checker import check_design

    report = check_design(design_dir, rung=rung, ladder=ladder)
    data = report.to_dict()
    errors = [f for f in data["findings"] if f.get("severity") == "error"]
    out: dict[str, Any] = {
        "ok": bool(report.ok),
        "summary": "passed"
        if report.ok
        else "; ".join(f"{f['check']}: {f['message']}" for f in errors[:3]),
        "findings": data["findings"],
        "seconds": float(data.get("seconds", 0.0)),
    }
    if report.ok:
        out["fingerprint"] = functional_fingerprint(design_dir)
    return out


def verify_job(
    design_dir: str,
    rung: str,
    ladder: str = "cpu",
    seed: int = 0,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Train and evaluate at ``rung``; the scores the loop records, with ``score`` among them."""
    from genesys_tui.verify.verify import verify

    result = verify(design_dir, rung=rung, ladder=ladder, seed=seed, progress=progress, check=False)
    data = result.to_dict()
    ok = bool(data.get("ok", True))
    scores: dict[str, float] = {}
    if ok:
        scores["score"] = float(data["fitness"])
        scores["bpb"] = float(data["bpb"])
        for task, acc in (data.get("evals") or {}).items():
            scores[f"eval/{task}"] = float(acc)
        if data.get("tokens_per_second") is not None:
            scores["tokens_per_second"] = float(data["tokens_per_second"])
    return {
        "ok": ok,
        "reason": data.get("reason", ""),
        "scores": scores,
        "evals": data.get("evals", {}),
        "tokens": int(data.get("tokens", 0)),
        "params": int(data.get("params", 0)),
        "seconds": float(data.get("wall_seconds", 0.0)),
    }
