"""``pip install .`` gives a wheel that carries library/ and themes/ and works from elsewhere."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    (path,) = out.glob("genesys_tui-*.whl")
    return path


def test_wheel_carries_library_and_themes(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "genesys_tui/library/gpt/design.json" in names
    assert "genesys_tui/library/gpt/units/causal_self_attention.py" in names
    assert any(n.startswith("genesys_tui/themes/") for n in names)


@pytest.mark.slow
def test_installed_wheel_finds_reference_designs_from_another_folder(
    wheel: Path, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    # Dependencies come from this environment's site-packages, added as a plain path so that
    # its .pth files (among them the editable install of this checkout) are not processed.
    purelib = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    )
    Path(purelib.stdout.strip(), "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run(
        [str(py), "-m", "pip", "install", "--no-deps", "-q", str(wheel)],
        check=True,
        capture_output=True,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": ""}
    out = subprocess.run(
        [str(venv / "bin" / "genesys"), "library", "--json", "--d-model", "64", "--n-layers", "1"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert "gpt" in {r["name"] for r in rows}
    where = subprocess.run(
        [str(py), "-c", "import genesys_tui.resources as r; print(r.library_dir())"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert str(venv) in where.stdout
