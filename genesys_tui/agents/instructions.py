"""What each agent is told: its prompt file, plus the unit format generated from the code.

The prompts live in ``prompts/<role>.md``. The unit-format section they share is *generated*,
never written by hand, so it cannot drift from the contract: the docstring of
``genesys_tui/units/contract.py`` (read as text; this package never imports torch), the roles of
``genesys_tui.design.ROLES``, the modules the checker allows (``checker/banned.py``, read as
text), and two real library units as examples (a leaf and a block with slots).
"""

from __future__ import annotations

import ast
import functools
import string
from pathlib import Path

from genesys_tui.design import ROLES
from genesys_tui.parsing import module_docstring, parse
from genesys_tui.resources import library_dir

PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"
PACKAGE = Path(__file__).resolve().parents[1]
ROLE_LINE = "Genesys agent role: {role}"
EXAMPLES = ("gpt", ("units/mlp.py", "units/pre_norm_block.py"))


def load_prompt(role: str) -> str:
    """The text of ``prompts/<role>.md``."""
    path = PROMPTS_DIR / f"{role}.md"
    if not path.is_file():
        raise FileNotFoundError(f"no prompt for role {role!r} (expected {path})")
    return path.read_text(encoding="utf-8")


def system_prompt(role: str, **values: object) -> str:
    """The system prompt of ``role``: a first line naming the role (servers and logs key on
    it), then the prompt file with ``$unit_format`` and ``values`` substituted."""
    text = string.Template(load_prompt(role)).safe_substitute(unit_format=unit_format(), **values)
    return ROLE_LINE.format(role=role) + "\n\n" + text


def allowed_modules() -> list[str]:
    """The modules the checker lets unit code import, read from ``checker/banned.py``."""
    path = PACKAGE / "checker" / "banned.py"
    if not path.is_file():
        return ["torch", "math", "genesys_tui.units"]
    for node in parse(path.read_text(encoding="utf-8")).body:
        target: ast.expr | None = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        if isinstance(target, ast.Name) and target.id == "ALLOWED_MODULES":
            found = [n for n in ast.walk(node) if isinstance(n, ast.Set)]
            if found:
                return sorted(ast.literal_eval(found[0]))
    return ["torch", "math", "genesys_tui.units"]


@functools.cache
def unit_format() -> str:
    """The unit format as Markdown, generated from the unit contract and the library."""
    base = (PACKAGE / "units" / "contract.py").read_text(encoding="utf-8")
    contract = module_docstring(base)
    roles = "\n".join(f"- `{name}`: {doc}" for name, doc in ROLES.items())
    design, files = EXAMPLES
    examples = "\n\n".join(
        f"`{rel}` ({design}):\n\n```python\n"
        + (library_dir() / design / rel).read_text(encoding="utf-8").rstrip()
        + "\n```"
        for rel in files
    )
    modules = ", ".join(f"`{m}`" for m in allowed_modules())
    ctx = "\n".join(_context_fields(base))
    return (
        "## The unit format\n\n"
        + contract
        + f"\n\nThe BuildContext `ctx` has these fields:\n\n```python\n{ctx}\n```"
        + "\n\nImport `Unit` and `Arg` with `from genesys_tui.units import Arg, Unit`. "
        "`forward` always returns the pair `(Y, Z)`; pass `Z` on (add keys to it if you must; "
        "never drop those you received).\n\n"
        f"Roles:\n\n{roles}\n\n"
        f"A unit file may import only: {modules}.\n\n"
        f"Examples from the reference library:\n\n{examples}\n"
    )


def _context_fields(base_source: str) -> list[str]:
    """The field lines (with their comments) of ``BuildContext`` in ``units/contract.py``."""
    lines = base_source.splitlines()
    for node in parse(base_source).body:
        if isinstance(node, ast.ClassDef) and node.name == "BuildContext":
            return [
                lines[stmt.lineno - 1].strip()
                for stmt in node.body
                if isinstance(stmt, ast.AnnAssign)
            ]
    return []
