"""Training checkpoints: self-contained, resumable, written atomically.

A checkpoint is one ``torch.save`` file holding only plain types and tensors (never pickled
modules or classes: unit classes live in exec'd namespaces and would not unpickle), so it loads
with ``weights_only=True`` and rebuilds its model with nothing else at hand:

    format, model (state dict), optimizer (state dict), step, tokens, seed, rng (torch and CUDA
    generator states), sampler (the data sampler's position), design (design.json as a dict and
    every unit source), model_config, tokenizer (name), rung (as a dict), settings, elapsed.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from genesys_tui.config import ModelConfig
from genesys_tui.design import Design, design_from_dict
from genesys_tui.errors import VerifyError
from genesys_tui.ladder import Rung
from genesys_tui.verify.batches import BatchSampler

CHECKPOINT_FORMAT = 1


@dataclass(frozen=True)
class CheckpointMeta:
    """What a checkpoint says about the model it holds."""

    design: Design  # rebuilt from the checkpoint's own design.json and unit sources
    config: ModelConfig  # the size the model was built at
    tokenizer: str  # name (or path) load_tokenizer accepts
    rung: Rung  # the rung it was trained on
    step: int  # optimiser steps taken
    tokens: int  # training tokens consumed
    seed: int  # the run's seed
    path: Path  # the file it was read from


def rng_state() -> dict[str, Any]:
    """The torch generator states a run draws from (dropout, compiled kernels)."""
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    path: str | Path,
    *,
    model: torch.nn.Module,
    design: Design,
    config: ModelConfig,
    tokenizer: str,
    rung: Rung,
    step: int,
    tokens: int,
    seed: int,
    optimizer: torch.optim.Optimizer | None = None,
    sampler: Mapping[str, Any] | None = None,
    settings: Mapping[str, Any] | None = None,
    elapsed: float = 0.0,
) -> Path:
    """Write a checkpoint to ``path`` atomically (a temporary file beside it, then a rename), so
    a crash mid-write leaves the previous checkpoint intact. ``model`` must be the uncompiled
    module (its state-dict keys are what ``load_checkpoint`` expects)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "step": int(step),
        "tokens": int(tokens),
        "seed": int(seed),
        "rng": rng_state(),
        "sampler": dict(sampler or {}),
        "design": {"json": design.to_dict(), "sources": dict(design.sources)},
        "model_config": dataclasses.asdict(config),
        "tokenizer": tokenizer,
        "rung": rung.to_dict(),
        "settings": dict(settings or {}),
        "elapsed": float(elapsed),
    }
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The raw payload of a checkpoint (see the module docstring), checked for its format."""
    path = Path(path)
    if not path.is_file():
        raise VerifyError(f"checkpoint {path} does not exist")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise VerifyError(
            f"checkpoint {path} cannot be read ({exc}); it is damaged or not a Genesys checkpoint"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise VerifyError(
            f"checkpoint {path} is not a format-{CHECKPOINT_FORMAT} Genesys checkpoint"
        )
    return payload


def meta_of(payload: Mapping[str, Any], path: str | Path) -> CheckpointMeta:
    """The CheckpointMeta of a raw payload; the design is revalidated from its sources."""
    design = design_from_dict(payload["design"]["json"], payload["design"]["sources"])
    return CheckpointMeta(
        design=design,
        config=ModelConfig(**payload["model_config"]),
        tokenizer=str(payload["tokenizer"]),
        rung=Rung(**payload["rung"]),
        step=int(payload["step"]),
        tokens=int(payload["tokens"]),
        seed=int(payload["seed"]),
        path=Path(path),
    )


def load_checkpoint(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[torch.nn.Module, CheckpointMeta]:
    """Rebuild the model a checkpoint holds, from the checkpoint alone, in eval mode on
    ``device``. Returns ``(model, meta)``; ``model`` is a ``LanguageModel``."""
    from genesys_tui.units.lm import build_lm

    payload = read_checkpoint(path)
    meta = meta_of(payload, path)
    model = build_lm(meta.design, meta.config, seed=meta.seed)
    model.load_state_dict(payload["model"])
    return model.to(device).eval(), meta


def restore_state(
    payload: dict[str, Any],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    sampler: BatchSampler,
) -> tuple[int, int]:
    """Load a checkpoint's weights, optimiser, data position and RNG; return (step, tokens)."""
    model.load_state_dict(payload["model"])
    optimizer.load_state_dict(payload["optimizer"])
    sampler.load_state_dict(payload["sampler"])
    set_rng_state(payload["rng"])
    return int(payload["step"]), int(payload["tokens"])


def check_resumable(
    saved: Design,
    given: Design,
    saved_rung: Rung,
    rung: Rung,
    saved_config: ModelConfig,
    config: ModelConfig | None,
) -> None:
    """VerifyError unless a checkpoint of ``saved`` at ``saved_rung`` and ``saved_config``
    can resume a run of ``given`` at ``rung`` (and ``config``, when one is asked for)."""
    if saved.to_dict() != given.to_dict() or dict(saved.sources) != dict(given.sources):
        raise VerifyError(
            f"the checkpoint holds design {saved.name!r}, which differs from the "
            f"design given ({given.name!r}); resume with the design it was "
            "trained from"
        )
    if saved_rung != rung:
        raise VerifyError(
            f"the checkpoint was trained on rung {saved_rung.name!r} with other "
            f"settings than rung {rung.name!r} has now; resume on the same rung"
        )
    if config is not None and config != saved_config:
        raise VerifyError(f"the checkpoint's model size {saved_config} differs from {config}")
