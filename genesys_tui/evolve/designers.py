"""The designer registry: a ``--designer`` spec's prefix names the factory that builds it.

``offline`` is the symbolic mutator, ``learning`` the same with a surrogate of the namespace's
results ranking its candidate edits (``learning.py``; ``learning:NS[,NS...]`` learns from those
earlier runs too); every LLM provider the agents know
(``anthropic:MODEL``, ``openai:MODEL``, ``openai-compatible:URL#MODEL``, ...) builds an LLM
designer. A new designer family is a module with a ``Designer`` and one entry in
``DESIGNERS``; a new LLM provider is one entry in ``agents.factory.PROVIDERS`` and needs
nothing here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from genesys_tui.designer import Designer
from genesys_tui.errors import ConfigError

#: (the run's designer spec, the namespace's repository or None before it exists) -> Designer
DesignerFactory = Callable[[str, Any], Designer]


def _pool(repo: Any) -> Any:
    """The library's units and those of the namespace's designs that passed the checker."""
    from genesys_tui.evolve.pool import UnitPool

    pool = UnitPool.library()
    for record in repo.records() if repo is not None else ():
        if record.status in ("checked", "verified") and record.origin != "seed":
            pool.add(repo.read_design(record.id))
    return pool


def _offline(spec: str, repo: Any) -> Designer:
    from genesys_tui.evolve.offline import OfflineDesigner

    return OfflineDesigner(_pool(repo))


def _learning(spec: str, repo: Any) -> Designer:
    """``learning``, or ``learning:NS[,NS...]`` to learn from those earlier runs too
    (namespaces beside this one, or paths)."""
    from genesys_tui.evolve.learning import LearningDesigner, read_prior

    if repo is None:
        raise ConfigError("the learning designer reads the namespace: build it with its repo")
    _, _, runs = spec.partition(":")
    names = [n.strip() for n in runs.split(",") if n.strip()]
    if runs and not names:
        raise ConfigError(f"designer {spec!r}: name the earlier runs, learning:NS[,NS...]")
    prior = read_prior(Path(repo.path).parent, names)
    return LearningDesigner(_pool(repo), repo, prior=prior)


def _llm(spec: str, repo: Any) -> Designer:
    try:
        from genesys_tui.agents.factory import make_llm_designer
    except ImportError as exc:
        raise ConfigError(
            f"designer {spec!r}: LLM designers are not available ({exc}); use --designer offline"
        ) from None
    return make_llm_designer(spec)


#: Designer families by the spec's prefix (the part before ':').
DESIGNERS: dict[str, DesignerFactory] = {"offline": _offline, "learning": _learning}
#: Designers built from the namespace's repository (so only once it is open); the others are
#: built first, so that a missing API key is refused before anything is written.
READS_REPO = ("offline", "learning")
#: Designers that take earlier runs after a colon (``learning:NS[,NS...]``).
TAKE_RUNS = ("learning",)


def known_designers() -> list[str]:
    """The spec forms ``--designer`` accepts, for messages and help."""
    from genesys_tui.agents.factory import PROVIDERS

    return [*DESIGNERS, *(f"{name}:NS[,NS...]" for name in TAKE_RUNS),
            *(entry.form for entry in PROVIDERS.values())]  # fmt: skip


def designer_factory(spec: str) -> DesignerFactory:
    """The factory for ``spec``; ConfigError in one line listing the known forms otherwise."""
    prefix, sep, _ = spec.partition(":")
    if prefix in DESIGNERS and (not sep or prefix in TAKE_RUNS):
        return DESIGNERS[prefix]
    if sep:
        from genesys_tui.agents.factory import PROVIDERS

        if prefix in PROVIDERS:
            return _llm
    raise ConfigError(f"unknown designer {spec!r}; known: {', '.join(known_designers())}")


def make_designer(spec: str, repo: Any = None) -> Designer:
    """Build the designer ``spec`` names (``repo``: the namespace, for the offline pool)."""
    return designer_factory(spec)(spec, repo)
