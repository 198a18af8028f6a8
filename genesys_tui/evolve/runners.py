"""The runner registry: ``--runner NAME[:ARG]`` (or ``[evolve] runner``) names where check and
verify jobs run. ``local`` (processes forked on this machine) is the default; ``ray[:ADDRESS]``
runs them as tasks on a Ray cluster (``ray_runner.py``). A new runner is a module with a class
meeting ``runner.Runner`` and one entry in ``RUNNERS``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from genesys_tui.errors import ConfigError
from genesys_tui.evolve.runner import LocalRunner, Runner, gpu_count

#: (ARG after the colon or "", the jobs' state directory, pool -> workers, retries) -> Runner
RunnerFactory = Callable[[str, Path, Mapping[str, int], int], Runner]


def _local(arg: str, state: Path, pools: Mapping[str, int], retries: int) -> Runner:
    if arg:
        raise ConfigError(f"the local runner takes no argument, got 'local:{arg}'")
    return LocalRunner(state, dict(pools), gpus=gpu_count())


def _ray(arg: str, state: Path, pools: Mapping[str, int], retries: int) -> Runner:
    from genesys_tui.evolve.ray_runner import RayRunner

    return RayRunner(arg, state, pools, retries=retries)


RUNNERS: dict[str, RunnerFactory] = {"local": _local, "ray": _ray}


def runner_factory(spec: str) -> tuple[RunnerFactory, str]:
    """The factory for ``NAME[:ARG]`` and its ARG; ConfigError listing the known names. A
    runner whose package is missing is refused here, before anything is written."""
    name, _, arg = spec.partition(":")
    if name not in RUNNERS:
        raise ConfigError(f"unknown runner {spec!r}; known: {', '.join(sorted(RUNNERS))}")
    if name == "ray":
        from genesys_tui.evolve.ray_runner import import_ray

        import_ray()
    return RUNNERS[name], arg


def make_runner(spec: str, state: Path, pools: Mapping[str, int], retries: int = 2) -> Runner:
    factory, arg = runner_factory(spec)
    return factory(arg, state, pools, retries)
