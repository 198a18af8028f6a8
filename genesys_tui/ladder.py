"""The ladder of scales: named rungs, cheapest first, and sizing a design to a rung.

A rung fixes the GPT reference's width and depth, the tokenizer, context, training tokens, batch
and optimiser. The built-in ladders (``cpu`` and ``paper``) live in ``ladders.toml`` beside this
module; users may pass a TOML file of their own in the same format. Loading a ladder does not
import torch; ``size_design`` does. Plain data below the checker and the verifier, which both
size designs to rungs.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genesys_tui.config import ModelConfig, from_mapping, load_toml
from genesys_tui.design import Design
from genesys_tui.errors import ConfigError, VerifyError

BUILTIN_LADDERS = Path(__file__).resolve().parent / "ladders.toml"
#: A sized design's non-embedding parameter count must be within this of the GPT reference's.
SIZE_TOLERANCE = 0.10


@dataclass(frozen=True)
class Rung:
    """One rung: the model size and the training budget every design gets at this scale."""

    name: str  # unique across the built-in ladders: cpu-xs, ..., 14M, ..., 350M
    d_model: int  # width D of the GPT reference (a sized design may differ)
    n_layers: int  # depth N of the GPT reference (a sized design may differ)
    tokenizer: str = "bytes"  # a name load_tokenizer knows: bytes, bpe4k, bpe8k, bpe16k
    context_length: int = 256  # tokens per training sequence T
    tokens: int = 1_000_000  # training tokens, rounded up to whole optimiser steps
    batch_size: int = 16  # sequences per optimiser step
    micro_batch_size: int = 0  # sequences per forward/backward; 0: the whole batch at once
    lr: float = 1e-3  # peak learning rate, reached at the end of warmup
    min_lr: float = 1e-4  # learning rate at the end of the cosine decay
    warmup: float = 0.02  # share of the steps spent warming up linearly from 0
    weight_decay: float = 0.1  # AdamW decoupled weight decay on matrices (not norms, biases)
    grad_clip: float = 1.0  # clip the global gradient norm to this; 0 turns clipping off
    eval_tokens: int = 65_536  # held-out tokens scored for val_loss and bpb (whole windows)
    # The rung score's seed-to-seed standard deviation (`genesys study noise`), what margins
    # are read against; 0: not measured. Not a training setting: checkpoints ignore it.
    score_sigma: float = field(default=0.0, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ConfigError(f"Rung.name must be a non-empty string, got {self.name!r}")
        for fld in ("d_model", "n_layers", "context_length", "tokens", "batch_size", "eval_tokens"):
            _positive_int(self, fld)
        if (
            isinstance(self.micro_batch_size, bool)
            or not isinstance(self.micro_batch_size, int)
            or self.micro_batch_size < 0
        ):
            raise ConfigError(
                f"Rung.micro_batch_size must be an integer >= 0, got {self.micro_batch_size!r}"
            )
        if self.batch_size % self.micro:
            raise ConfigError(
                f"Rung.micro_batch_size {self.micro} must divide batch_size {self.batch_size}"
            )
        if not isinstance(self.tokenizer, str) or not self.tokenizer:
            raise ConfigError(f"Rung.tokenizer must name a tokenizer, got {self.tokenizer!r}")
        for fld in ("lr", "min_lr", "weight_decay", "grad_clip"):
            value = getattr(self, fld)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(f"Rung.{fld} must be a number >= 0, got {value!r}")
        if self.lr <= 0 or self.min_lr > self.lr:
            raise ConfigError(f"Rung.min_lr {self.min_lr} must be in [0, lr] and lr > 0")
        sigma = self.score_sigma
        if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not 0 <= sigma < 1:
            raise ConfigError(f"Rung.score_sigma must be a number in [0, 1), got {sigma!r}")
        if not isinstance(self.warmup, (int, float)) or not 0 <= self.warmup < 1:
            raise ConfigError(
                f"Rung.warmup must be a share of the steps in [0, 1), got {self.warmup!r}"
            )

    @property
    def micro(self) -> int:
        """Sequences per forward/backward pass."""
        return self.micro_batch_size or self.batch_size

    @property
    def grad_accum(self) -> int:
        """Micro-batches accumulated into one optimiser step."""
        return self.batch_size // self.micro

    @property
    def tokens_per_step(self) -> int:
        return self.batch_size * self.context_length

    @property
    def steps(self) -> int:
        """Optimiser steps of a full run: ``tokens`` rounded up to whole steps."""
        return -(-self.tokens // self.tokens_per_step)

    @property
    def warmup_steps(self) -> int:
        return int(self.warmup * self.steps)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _positive_int(obj: Any, fld: str) -> None:
    value = getattr(obj, fld)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{type(obj).__name__}.{fld} must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class Ladder:
    """Named rungs, cheapest first."""

    name: str
    rungs: tuple[Rung, ...]
    description: str = ""
    #: Shipped with the package (``cpu``, ``paper``, or one of them from a rung up): the checker
    #: can look up its rungs by name; a ladder file's rungs it cannot.
    builtin: bool = field(default=False, compare=False)

    def __iter__(self) -> Iterator[Rung]:
        return iter(self.rungs)

    def rung(self, name: str) -> Rung:
        """The rung called ``name``; ConfigError listing the known names otherwise."""
        for r in self.rungs:
            if r.name == name:
                return r
        raise ConfigError(
            f"ladder {self.name!r} has no rung {name!r}; its rungs: {[r.name for r in self.rungs]}"
        )

    def starting_at(self, name: str) -> Ladder:
        """This ladder from rung ``name`` up (``cpu@cpu-s8``): a loop that starts at a rung
        which ranks designs, skipping the cheaper screens below it."""
        first = self.rungs.index(self.rung(name))
        note = f"{self.description} (from {name})" if self.description else f"from {name}"
        return Ladder(f"{self.name}@{name}", self.rungs[first:], note, self.builtin)

    @property
    def sigmas(self) -> dict[str, float]:
        """Each rung's measured score noise (``Rung.score_sigma``; 0 where not measured)."""
        return {r.name: r.score_sigma for r in self.rungs}


def ladders_from_mapping(data: Mapping[str, Any], where: str = "") -> dict[str, Ladder]:
    """Parse ``{ladder: {description, defaults, rungs: [...]}}`` (the ladders.toml layout)."""
    ladders: dict[str, Ladder] = {}
    for lname, raw in data.items():
        at = f"{where}{lname}"
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{at} must be a table with a rungs list")
        unknown = sorted(set(raw) - {"description", "defaults", "rungs"})
        if unknown:
            raise ConfigError(
                f"unknown setting {at}.{unknown[0]}; known: ['defaults', 'description', 'rungs']"
            )
        defaults = raw.get("defaults", {})
        rungs_raw = raw.get("rungs")
        if not isinstance(rungs_raw, list) or not rungs_raw:
            raise ConfigError(f"{at}.rungs must be a non-empty list of rung tables")
        rungs = tuple(
            from_mapping(Rung, {**defaults, **r}, f"{at}.rungs[{i}]")
            for i, r in enumerate(rungs_raw)
        )
        names = [r.name for r in rungs]
        if len(set(names)) != len(names):
            raise ConfigError(f"{at}.rungs: rung names must be unique, got {names}")
        ladders[lname] = Ladder(lname, rungs, str(raw.get("description", "")))
    return ladders


def builtin_ladders() -> dict[str, Ladder]:
    """The ladders shipped with the package: ``cpu`` and ``paper``."""
    ladders = ladders_from_mapping(load_toml(BUILTIN_LADDERS))
    return {name: dataclasses.replace(lad, builtin=True) for name, lad in ladders.items()}


def rung_sigmas(ladder: str | Path) -> dict[str, float]:
    """Each rung of ``ladder``'s measured score noise (0 where not measured)."""
    return load_ladder(ladder).sigmas


def load_ladder(name_or_path: str | Path) -> Ladder:
    """A built-in ladder by name (``cpu``, ``paper``), or the one ladder a TOML file defines;
    ``LADDER@RUNG`` is a built-in ladder from rung RUNG up (``cpu@cpu-s8``)."""
    builtin = builtin_ladders()
    if str(name_or_path) in builtin:
        return builtin[str(name_or_path)]
    path = Path(name_or_path)
    base, at, first = str(name_or_path).rpartition("@")
    if at and base in builtin and not path.is_file():
        return builtin[base].starting_at(first)
    if not path.is_file():
        raise ConfigError(
            f"--ladder {str(name_or_path)!r} is neither a built-in ladder "
            f"{sorted(builtin)} nor a TOML file (LADDER@RUNG starts a built-in ladder at a rung)"
        )
    ladders = ladders_from_mapping(load_toml(path), f"{path}: ")
    if len(ladders) != 1:
        raise ConfigError(f"{path} defines ladders {sorted(ladders)}; keep one per file")
    return next(iter(ladders.values()))


def find_rung(rung: str, ladder: str | Path | None = None) -> Rung:
    """Rung ``rung`` of ``ladder``; with no ladder, searched across the built-in ladders."""
    if ladder is not None:
        return load_ladder(ladder).rung(rung)
    ladders = builtin_ladders()
    for lad in ladders.values():
        for r in lad:
            if r.name == rung:
                return r
    known = [r.name for lad in ladders.values() for r in lad]
    raise ConfigError(f"no rung {rung!r} in the built-in ladders; known rungs: {known}")


# --------------------------------------------------------------------------------------------
# Sizing a design to a rung


def non_embedding_params(design: Design, config: ModelConfig) -> int:
    """Parameters of ``design`` at ``config``, the tied token embedding left out.

    Built on the meta device (no memory, no arithmetic) where the design's units allow it, on
    the CPU otherwise. A ValueError or a UnitError from a unit means the size is invalid for it.
    """
    import torch

    from genesys_tui.units.lm import build_lm

    try:
        with torch.device("meta"):
            model = build_lm(design, config)
    except (RuntimeError, NotImplementedError):
        # Some init code needs real numbers (``.item()``, numpy); counting is the same.
        model = build_lm(design, config, seed=0)
    return model.num_params(non_embedding=True)


def reference_design() -> Design:
    """The GPT reference design every rung is defined by (``library/gpt``)."""
    from genesys_tui.design import load_design
    from genesys_tui.resources import library_dir

    return load_design(library_dir() / "gpt")


def reference_params(rung: Rung, vocab_size: int = 256) -> int:
    """Non-embedding parameters of the GPT reference at the rung's width and depth."""
    config = ModelConfig(
        d_model=rung.d_model,
        n_layers=rung.n_layers,
        vocab_size=vocab_size,
        context_length=rung.context_length,
    )
    return non_embedding_params(reference_design(), config)


def size_design(
    design: Design, rung: Rung, vocab_size: int, tolerance: float = SIZE_TOLERANCE
) -> ModelConfig:
    """The ModelConfig at which ``design`` has the GPT reference's non-embedding size at ``rung``.

    Depth is adjusted first, at the rung's width: the tied embedding (V x D) then matches the
    reference's exactly, so total sizes agree too, and the design keeps the width its units'
    arguments were written for. Where no depth lands within ``tolerance`` (a block much larger
    or smaller than a GPT block, or a width a unit rejects), widths are tried nearest the rung's
    first, each at its best depth, in multiples of ``width_step`` so heads stay whole; widths a
    unit rejects (ValueError) are skipped. The first width with a depth within ``tolerance``
    wins, at the depth closest to the target. Raises VerifyError when none does.
    """
    target = reference_params(rung, vocab_size)
    tried: dict[tuple[int, int], int] = {}

    def config(d: int, n: int) -> ModelConfig:
        return ModelConfig(
            d_model=d, n_layers=n, vocab_size=vocab_size, context_length=rung.context_length
        )

    def best_depth(d: int) -> tuple[int, int] | None:
        # Parameters grow with depth, so the scan stops at the first depth above the target.
        found: dict[tuple[int, int], int] = {}
        for n in range(1, 4 * rung.n_layers + 1):
            try:
                found[(d, n)] = non_embedding_params(design, config(d, n))
            except (ValueError, ZeroDivisionError):  # the unit rejects this width
                return None
            if found[(d, n)] > target * (1 + tolerance):
                break
        tried.update(found)
        best = _closest(found, target)
        return best if best and abs(found[best] / target - 1) <= tolerance else None

    step = width_step(rung.d_model)
    widths = sorted(range(step, 4 * rung.d_model + 1, step), key=lambda d: abs(d - rung.d_model))
    for d in [rung.d_model, *(w for w in widths if w != rung.d_model)]:
        best = best_depth(d)
        if best is not None:
            return config(*best)
    near = _closest(tried, target)
    closest = (
        f"; closest: d_model {near[0]}, n_layers {near[1]} with {tried[near]:,}" if near else ""
    )
    raise VerifyError(
        f"cannot size design {design.name!r} to rung {rung.name!r}: no depth or width gives "
        f"within {tolerance:.0%} of the GPT reference's {target:,} non-embedding "
        f"parameters{closest}"
    )


def width_step(d_model: int) -> int:
    """Granularity of the width search: 64 from width 512 (GPU-friendly matrix sizes), 32 from
    128, 16 below (a tiny rung needs the finer steps to land within tolerance)."""
    return 64 if d_model >= 512 else 32 if d_model >= 128 else 16


def _closest(tried: Mapping[tuple[int, int], int], target: int) -> tuple[int, int] | None:
    if not tried:
        return None
    return min(tried, key=lambda k: (abs(math.log(tried[k] / target)), k[1]))
