"""Where the package's shipped folders live: ``library/`` and ``themes/``.

In a wheel they are installed inside the package (``genesys_tui/library``); in a source checkout
or an editable install they sit at the top of the repository, beside the package.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _shipped(name: str) -> Path:
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"cannot find the {name}/ folder beside {_PACKAGE}; reinstall genesys_tui "
        "(pip install .) so that it ships with the package"
    )


def library_dir() -> Path:
    """The reference library: one design directory per human design (gpt, mamba2, ...)."""
    return _shipped("library")


def is_library_design(design: str | Path) -> bool:
    """Whether ``design`` names a design of the shipped reference library: a bare name that is
    no path here (``load_design`` looks it up in the library), or a directory of the library
    itself. Those are the project's own code; every other design directory is a model's."""
    given = Path(design)
    if given.name == "design.json":
        given = given.parent
    if not given.exists():
        return len(given.parts) == 1 and (library_dir() / given.name).is_dir()
    return given.resolve().parent == library_dir().resolve()


def themes_dir() -> Path:
    """The dashboard's theme files."""
    return _shipped("themes")


def library_designs() -> list[Path]:
    """Every design directory in the reference library, sorted by name."""
    return sorted(p for p in library_dir().iterdir() if (p / "design.json").is_file())
