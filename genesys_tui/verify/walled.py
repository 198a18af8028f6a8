"""The cell side of a walled verify job (``evolve.jobs.verify_host`` is the trusted side).

``verify_in_cell`` runs inside a bubblewrap cell: it writes the design's files into the cell's
scratch directory, trains and evaluates it there (``verify.job.verify_job``, the checkpoint in
scratch too), then gives the auditor its evidence: the summed loss of each held-out window the
auditor named, and, once the auditor has drawn its challenge, the raw logits of the windows it
drew (``verify.audit``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from genesys_tui.verify.audit import encode_logits


def verify_in_cell(
    channel: Any,
    files: dict[str, str],
    rung: str,
    windows: list[list[int]],
    ladder: str = "cpu",
    seed: int = 0,
    pairs: int = 0,
    tasks_min_tokens: int = 0,
    threads: int = 0,
) -> dict[str, Any]:
    from genesys_tui.verify.job import verify_job

    if threads:
        torch.set_num_threads(threads)
    scratch = Path.cwd()
    design_dir = scratch / "design"
    for rel, text in files.items():
        target = (design_dir / rel).resolve()
        if design_dir.resolve() not in target.parents:
            raise ValueError(f"design file {rel!r} lies outside the design directory")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    run_dir = scratch / "run"
    result = verify_job(str(design_dir), rung, ladder=ladder, seed=seed, pairs=pairs,
                        tasks_min_tokens=tasks_min_tokens, progress=channel.emit,
                        out_dir=str(run_dir))  # fmt: skip
    if not result.get("ok"):
        return {"result": result}
    return {"result": result, **_evidence(channel, run_dir, rung, ladder, windows)}


def _evidence(channel: Any, run_dir: Path, rung: str, ladder: str, windows: list[list[int]]
              ) -> dict[str, Any]:  # fmt: skip
    """Each named window's summed loss; then the logits of the windows the auditor draws."""
    from genesys_tui.ladder import load_ladder
    from genesys_tui.verify.checkpoint import load_checkpoint
    from genesys_tui.verify.token_cache import load_tokens

    the_rung = load_ladder(ladder).rung(rung)
    model, _ = load_checkpoint(run_dir / "checkpoint.pt", device="cpu")
    stream = load_tokens("validation", the_rung.tokenizer).tokens
    def logits_of(start: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        ids = torch.from_numpy(stream[start : start + length + 1].astype("int64"))[None]
        return model(ids[:, :-1])[0].float(), ids[0, 1:]

    claims = []
    with torch.no_grad():
        for start, length in windows:
            logits, targets = logits_of(start, length)
            claims.append(float(F.cross_entropy(logits, targets, reduction="sum").double()))
        challenged = channel.ask({"claims": claims})
        shown = {str(i): logits_of(*windows[i])[0] for i in challenged if 0 <= i < len(windows)}
    vocab = next(iter(shown.values())).shape[-1] if shown else 0
    return {"logits": {i: encode_logits(x.numpy()) for i, x in shown.items()}, "shape": [vocab]}
