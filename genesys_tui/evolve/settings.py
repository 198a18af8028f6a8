"""Settings of an evolution run (``[evolve]`` in the settings TOML, overridden by flags)."""

from __future__ import annotations

from dataclasses import dataclass, field

from genesys_tui.errors import ConfigError
from genesys_tui.evolve.selection import SelectionConfig
from genesys_tui.verify.verify import TASKS_MIN_TOKENS


@dataclass(frozen=True)
class EvolveConfig:
    namespace: str = "default"  # designs/<namespace>/ holds the run's designs repository
    designer: str = "offline"  # "offline", or an LLM spec such as "anthropic:MODEL"
    ladder: str = "cpu"  # "cpu", "paper", or a ladder TOML file
    runner: str = "local"  # where jobs run: NAME[:ARG] of evolve.runners.RUNNERS
    max_designs: int = 24  # designs this namespace may hold, library seeds not counted
    max_wall_seconds: float = 0.0  # stop after this long (0: no limit)
    max_usd: float = 0.0  # stop once designing has cost this much (0: no limit)
    first_rung_budget: int = 0  # designs verified at the first rung (0: max_designs)
    rung_ratio: float = 4.0  # each higher rung verifies this many times fewer designs
    upper_share: float = 0.5  # while designs wait at the first rung, the rungs above it get at
    # most this share of the verification time (1: promotions as soon as they are due)
    max_rungs: int = 0  # climb at most this many rungs of the ladder (0: all)
    design_workers: int = 1  # designers (and checks) running at once
    backlog: int = 8  # the designer waits while this many checked designs await their first
    # verification, so that it designs from results, not ahead of them (0: no limit)
    verify_workers: int = 1  # verifications running at once (one per GPU where there are)
    check_timeout: float = 180.0  # seconds before a check job is killed
    retries: int = 2  # times a cluster runner reruns a job whose worker or node died
    verify_timeout: float = 4 * 3600.0  # seconds before a verification job is killed (cpu-m on
    # one of two busy cores takes well over an hour)
    seed: int = 0  # every random choice of the run derives from it
    verify: bool = True  # train and evaluate designs (False: design and check only)
    verify_pairs: int = 0  # generated minimal pairs per phenomenon (0: the rung's default)
    tasks_min_tokens: int = TASKS_MIN_TOKENS  # rungs training fewer tokens skip the tasks (0:
    # evaluate on every rung)
    sync: bool = False  # one job at a time, so that the same seed replays the same run
    halving: float = 0.0  # stop a verification at this fraction of its steps when its loss is
    # above the median of the rung's finished designs there (0: off; see evolve/halving.py)
    sandbox: bool = True  # design code runs behind the bubblewrap wall (False: --no-sandbox,
    # shown as "unsandboxed" in red for the whole run)
    selection: SelectionConfig = field(default_factory=SelectionConfig)

    def __post_init__(self) -> None:
        if not self.namespace or "/" in self.namespace or self.namespace.startswith("."):
            raise ConfigError(f"evolve.namespace {self.namespace!r} must be a plain folder name")
        for name in ("max_designs", "design_workers", "verify_workers"):
            if getattr(self, name) < 1:
                raise ConfigError(f"evolve.{name} must be at least 1")
        for name in ("max_wall_seconds", "max_usd", "first_rung_budget", "max_rungs", "backlog"):
            if getattr(self, name) < 0:
                raise ConfigError(f"evolve.{name} must not be negative")
        if not 0 <= self.upper_share <= 1:
            raise ConfigError("evolve.upper_share must be in [0, 1]")
        if self.rung_ratio < 1:
            raise ConfigError("evolve.rung_ratio must be at least 1")
        if not 0.0 <= self.halving < 1.0:
            raise ConfigError(f"evolve.halving must be in [0, 1), got {self.halving!r}")
        if self.retries < 0:
            raise ConfigError("evolve.retries must be >= 0")
        if self.tasks_min_tokens < 0:
            raise ConfigError("evolve.tasks_min_tokens must be >= 0")
        if self.check_timeout <= 0 or self.verify_timeout <= 0:
            raise ConfigError("evolve.check_timeout and evolve.verify_timeout must be positive")
