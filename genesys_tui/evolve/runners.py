"""The runner registry: ``--runner NAME[:ARG]`` (or ``[evolve] runner``) names where check and
verify jobs run. ``local`` (processes forked on this machine) is the default; a new runner is a
module with a class meeting ``runner.Runner`` and one entry in ``RUNNERS``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from genesys_tui.errors import ConfigError
from genesys_tui.evolve.runner import LocalRunner, Runner, gpu_count

#: (ARG after the colon, or "", the jobs' state directory, pool -> workers) -> Runner
RunnerFactory = Callable[[str, Path, Mapping[str, int]], Runner]


def _local(arg: str, state: Path, pools: Mapping[str, int]) -> Runner:
    if arg:
        raise ConfigError(f"the local runner takes no argument, got 'local:{arg}'")
    return LocalRunner(state, dict(pools), gpus=gpu_count())


RUNNERS: dict[str, RunnerFactory] = {"local": _local}


def runner_factory(spec: str) -> tuple[RunnerFactory, str]:
    """The factory for ``NAME[:ARG]`` and its ARG; ConfigError listing the known names."""
    name, _, arg = spec.partition(":")
    if name not in RUNNERS:
        raise ConfigError(f"unknown runner {spec!r}; known: {', '.join(sorted(RUNNERS))}")
    return RUNNERS[name], arg


def make_runner(spec: str, state: Path, pools: Mapping[str, int]) -> Runner:
    factory, arg = runner_factory(spec)
    return factory(arg, state, pools)
