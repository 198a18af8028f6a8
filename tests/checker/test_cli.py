"""``genesys check``: exit status 0 pass, 1 rejected, 2 usage or I/O error; --json prints one
object with ok and findings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from genesys_tui.cli import main
from tests.checker.conftest import REPO, materialize


def test_passing_design_exits_0_with_json_ok_and_torch_stays_out_of_the_caller() -> None:
    # A process of its own: this one has imported torch long ago.
    code = (
        "import sys\n"
        "from genesys_tui.cli import main\n"
        "rc = main(['check', 'gpt', '--json', '--skip', 'speed'])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch'), file=sys.stderr)\n"
        "sys.exit(rc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, cwd=REPO)  # fmt: skip
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["ok"] is True and report["findings"] == []
    assert out.stderr.strip().splitlines()[-1] == "[]"


def test_rejected_design_exits_1_and_names_the_finding(capsys: pytest.CaptureFixture[str],
                                                       tmp_path: Path) -> None:  # fmt: skip
    assert main(["check", str(materialize("banned_import", tmp_path)), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert report["findings"][0]["check"] == "banned_import"
    assert {"check", "severity", "message", "hint"} <= set(report["findings"][0])


def test_verbose_prints_time_per_stage(capsys: pytest.CaptureFixture[str], tmp_path: Path
                                       ) -> None:  # fmt: skip
    assert main(["check", str(materialize("banned_import", tmp_path)), "--verbose"]) == 1
    out = capsys.readouterr().out
    assert "time per stage" in out and "static" in out


@pytest.mark.parametrize(
    "argv",
    [["check", "no-such-design"], ["check", "gpt", "--rung", "no-such-rung"],
     ["check", "gpt", "--skip", "no-such-stage"], ["check", "gpt", "--config", "/nonexistent"]],
    ids=["missing-design", "unknown-rung", "unknown-stage", "missing-config"],
)  # fmt: skip
def test_usage_or_io_error_exits_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "error" in capsys.readouterr().err


def test_broken_design_json_is_a_rejection_not_a_crash(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "design.json").write_text("{not json")
    assert main(["check", str(tmp_path), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["findings"][0]["check"] == "load"
