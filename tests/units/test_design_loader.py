"""Loading a design validates it and names the file and the field at fault."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from genesys_tui.design import FORMAT_VERSION, load_design
from genesys_tui.errors import DesignError
from tests.conftest import LIBRARY


@pytest.fixture
def gpt_copy(tmp_path: Path) -> Path:
    dest = tmp_path / "gpt"
    shutil.copytree(LIBRARY / "gpt", dest)
    return dest


def edit(design_dir: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = design_dir / "design.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_library_gpt_loads() -> None:
    design = load_design(LIBRARY / "gpt")
    assert design.name == "gpt"
    assert design.roots == ("block",)
    assert design.units["attn"].args == {"n_heads": 4}
    assert set(design.sources) == {n.file for n in design.units.values()}


def test_bare_name_resolves_to_library() -> None:
    assert load_design("gpt").path == LIBRARY / "gpt"


def test_round_trip_through_save(gpt_copy: Path, tmp_path: Path) -> None:
    design = load_design(gpt_copy)
    again = load_design(design.save(tmp_path / "saved"))
    assert again.to_dict() == design.to_dict()
    assert again.sources == design.sources


def _set(path: list[str], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


def _delete(path: list[str]) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return change


CASES = [
    ("unknown-top-field", _set(["colour"], "blue"), "design.json", "colour", "unknown field"),
    (
        "unknown-unit-field",
        _set(["units", "attn", "heads"], 2),
        "design.json",
        "units.attn.heads",
        "unknown field",
    ),
    ("missing-root", _delete(["root"]), "design.json", "root", "missing required"),
    ("bad-format", _set(["format"], FORMAT_VERSION + 1), "design.json", "format", "not supported"),
    (
        "missing-unit-file",
        _set(["units", "mlp", "file"], "units/nope.py"),
        "design.json",
        "units.mlp.file",
        "does not exist",
    ),
    (
        "unknown-class",
        _set(["units", "mlp", "class"], "Mlp"),
        "design.json",
        "units.mlp.class",
        "unknown class",
    ),
    (
        "unknown-role",
        _set(["units", "mlp", "role"], "ffn"),
        "design.json",
        "units.mlp.role",
        "unknown role",
    ),
    (
        "role-mismatch",
        _set(["units", "mlp", "role"], "norm"),
        "design.json",
        "units.mlp.role",
        "does not match",
    ),
    (
        "unknown-slot",
        _set(["units", "block", "children", "extra"], "mlp"),
        "design.json",
        "units.block.children.extra",
        "unknown slot",
    ),
    (
        "slot-without-child",
        _delete(["units", "block", "children", "mlp"]),
        "design.json",
        "units.block.children",
        "has no child",
    ),
    (
        "child-of-wrong-role",
        _set(["units", "block", "children", "mlp"], "attn_norm"),
        "design.json",
        "units.block.children.mlp",
        "takes a",
    ),
    (
        "arg-above-range",
        _set(["units", "attn", "args", "n_heads"], 1000),
        "design.json",
        "units.attn.args.n_heads",
        "above the declared maximum",
    ),
    (
        "arg-wrong-type",
        _set(["units", "attn", "args", "n_heads"], 2.5),
        "design.json",
        "units.attn.args.n_heads",
        "expected an integer",
    ),
    (
        "unknown-arg",
        _set(["units", "attn", "args", "n_kv_heads"], 2),
        "design.json",
        "units.attn.args.n_kv_heads",
        "unknown argument",
    ),
    ("root-not-block", _set(["root"], "attn"), "design.json", "root", "must have role"),
    ("root-unknown", _set(["root"], "nothing"), "design.json", "root", "not a unit id"),
    (
        "path-escapes",
        _set(["units", "mlp", "file"], "../evil.py"),
        "design.json",
        "units.mlp.file",
        "relative .py path",
    ),
]


@pytest.mark.parametrize(
    ("change", "file", "field", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_invalid_design_json_names_file_and_field(
    gpt_copy: Path, change: Callable[[dict[str, Any]], None], file: str, field: str, message: str
) -> None:
    edit(gpt_copy, change)
    with pytest.raises(DesignError) as err:
        load_design(gpt_copy)
    assert err.value.path is not None and err.value.path.endswith(file)
    assert err.value.field == field
    assert message in str(err.value)


def test_cycle_is_reported(gpt_copy: Path) -> None:
    # Two wrapper blocks that hold each other: unreachable from the root and on a cycle.
    wrapper = gpt_copy / "units" / "wrap.py"
    wrapper.write_text(
        "from genesys_tui.units import Unit\n\n\nclass Wrap(Unit):\n    role = 'norm'\n"
        "    slots = {'inner': 'norm'}\n\n    def __init__(self, ctx, inner):\n"
        "        super().__init__(ctx)\n        self.inner = inner\n\n"
        "    def forward(self, X, **Z):\n        return self.inner(X, **Z)\n"
    )

    def change(data: dict[str, Any]) -> None:
        data["units"]["w1"] = {
            "class": "Wrap",
            "file": "units/wrap.py",
            "role": "norm",
            "children": {"inner": "w2"},
        }
        data["units"]["w2"] = {
            "class": "Wrap",
            "file": "units/wrap.py",
            "role": "norm",
            "children": {"inner": "w1"},
        }

    edit(gpt_copy, change)
    with pytest.raises(DesignError, match="cycle"):
        load_design(gpt_copy)


def test_unit_used_twice_is_rejected(gpt_copy: Path) -> None:
    edit(gpt_copy, _set(["units", "block", "children", "norm2"], "attn_norm"))
    with pytest.raises(DesignError, match="used twice"):
        load_design(gpt_copy)


def test_unreachable_unit_is_rejected(gpt_copy: Path) -> None:
    edit(
        gpt_copy,
        _set(["units", "spare"], {"class": "RMSNorm", "file": "units/rms_norm.py", "role": "norm"}),
    )
    with pytest.raises(DesignError, match="not reachable") as err:
        load_design(gpt_copy)
    assert err.value.field == "units.spare"


def test_syntax_error_names_unit_file(gpt_copy: Path) -> None:
    (gpt_copy / "units" / "mlp.py").write_text("class MLP(Unit:\n")
    with pytest.raises(DesignError, match="syntax error at line 1") as err:
        load_design(gpt_copy)
    assert err.value.path is not None and err.value.path.endswith("units/mlp.py")


def test_declarations_must_be_literals(gpt_copy: Path) -> None:
    path = gpt_copy / "units" / "mlp.py"
    path.write_text(path.read_text().replace('role = "channel_mixer"', "role = ROLE"))
    with pytest.raises(DesignError, match="must be a literal") as err:
        load_design(gpt_copy)
    assert err.value.field == "declarations"


def test_invalid_json_reports_line(gpt_copy: Path) -> None:
    (gpt_copy / "design.json").write_text('{"format": 1,\n  "name": }')
    with pytest.raises(DesignError, match=r"invalid JSON at line 2"):
        load_design(gpt_copy)


def test_missing_directory_and_missing_json(tmp_path: Path) -> None:
    with pytest.raises(DesignError, match="no such design directory"):
        load_design(tmp_path / "absent")
    with pytest.raises(DesignError, match=r"missing design\.json"):
        load_design(tmp_path)
