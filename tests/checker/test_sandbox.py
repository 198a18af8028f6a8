"""The sandbox: whatever the unit code does (loop, allocate, fork, write, connect, exit, crash),
the design gets a finding, the checker never waits past its timeout, and the caller lives on.

Each escape is a GPT variant whose MLP runs one more statement in forward. The static checks
would stop most of them before anything runs, so these tests call ``check_runtime``, the
sandbox alone; ``test_static_checks_stop_escapes_before_anything_runs`` covers the full path.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from genesys_tui.checker import CheckConfig, check_design, check_runtime
from genesys_tui.design import load_design
from tests.checker.conftest import FAST, GPT, gpt_variant

# the line of units/mlp.py where the inserted statement starts: right after MLP.forward's def
FIRST_LINE = 2 + (GPT / "units" / "mlp.py").read_text().splitlines().index(
    "    def forward(self, X, **Z):"
)

# id -> (statement, the check of the finding)
ESCAPES = {
    "fork": ("import os\nos.fork()", "sandbox"),
    "subprocess": ("import subprocess\nsubprocess.run(['true'])", "sandbox"),
    "write-file": ("open(ESCAPE_PATH, 'w').write('escaped')", "sandbox"),
    "swallowed-write": ("try:\n    open(ESCAPE_PATH, 'w')\nexcept Exception:\n    pass", "sandbox"),
    "socket": ("import socket\nsocket.socket().connect(('127.0.0.1', 9))", "sandbox"),
    "sys-exit": ("import sys\nsys.exit(3)", "sandbox"),
    "os-exit": ("import os\nos._exit(3)", "sandbox"),
    "kill": ("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)", "sandbox"),
    "ctypes-segfault": ("import ctypes\nctypes.string_at(0)", "sandbox"),
    "segfault": ("import faulthandler\nfaulthandler._sigsegv()", "crash"),
    "alloc-100GB": ("import torch\ntorch.empty(100 * 2**30, dtype=torch.uint8).fill_(1)",
                    "memory_limit"),
    "alloc-8GB": ("import torch\ntorch.ones(2 * 2**30)", "memory_limit"),
}  # fmt: skip


def _variant(tmp_path: Path, statement: str) -> tuple:  # type: ignore[type-arg]
    target = tmp_path / "escaped.txt"
    design = gpt_variant(tmp_path, statement.replace("ESCAPE_PATH", repr(str(target))))
    return design, target


@pytest.mark.parametrize("case", sorted(ESCAPES), ids=sorted(ESCAPES))
def test_escape_gets_a_finding_at_its_line_and_the_caller_survives(case: str, tmp_path: Path
                                                                   ) -> None:  # fmt: skip
    statement, check = ESCAPES[case]
    design, target = _variant(tmp_path, statement)
    findings, stages, _ = check_runtime(design, FAST)
    errors = [f for f in findings if f.is_error]
    assert errors, f"{case}: no error finding"
    first = errors[0]
    assert first.check == check, first.format()
    assert first.stage == "forward"
    assert first.file == "units/mlp.py"
    n_lines = statement.count("\n") + 1
    assert first.line is not None and FIRST_LINE <= first.line < FIRST_LINE + n_lines
    assert not target.exists()
    assert "forward" in stages


def test_refusal_is_reported_even_when_the_unit_swallows_it(tmp_path: Path) -> None:
    design, _ = _variant(tmp_path, ESCAPES["swallowed-write"][0])
    findings, _, _ = check_runtime(design, FAST)
    assert "opening" in findings[0].message and "for writing" in findings[0].message


def test_endless_loop_is_killed_at_the_timeout(tmp_path: Path) -> None:
    design, _ = _variant(tmp_path, "while True:\n    pass")
    config = dataclasses.replace(FAST, timeout_s=3.0)
    t0 = time.monotonic()
    findings, stages, _ = check_runtime(design, config)
    waited = time.monotonic() - t0 - stages["startup"]
    assert [f.check for f in findings] == ["timeout"]
    assert findings[0].stage == "forward"
    assert 3.0 <= waited < 3.0 + 3.0


def test_cpu_limit_ends_a_busy_child(tmp_path: Path) -> None:
    design, _ = _variant(tmp_path, "while True:\n    pass")
    config = dataclasses.replace(FAST, cpu_limit_s=1, timeout_s=60.0)
    findings, _, _ = check_runtime(design, config)
    assert [f.check for f in findings] == ["cpu_limit"]


def test_unit_module_code_already_runs_inside_the_sandbox(tmp_path: Path) -> None:
    design, target = _variant(tmp_path, "pass")
    source = design.sources["units/mlp.py"].replace(
        "\n\nclass MLP", f"\n_LOG = open({str(target)!r}, 'w')\n\n\nclass MLP"
    )
    (design.path / "units" / "mlp.py").write_text(source)  # type: ignore[operator]
    findings, _, _ = check_runtime(load_design(design.path), FAST)  # type: ignore[arg-type]
    assert (findings[0].check, findings[0].stage) == ("sandbox", "build")
    assert not target.exists()


def test_garbage_on_stdout_and_stderr_cannot_forge_a_result(tmp_path: Path) -> None:
    forged = '{"type": "finding", "check": "forged", "severity": "error", "message": "x"}'
    statement = f"print({forged!r})\nprint('\\x00garbage' * 1000)"
    design, _ = _variant(tmp_path, statement)
    findings, _, _ = check_runtime(design, FAST)
    assert [f for f in findings if f.is_error] == []


@pytest.mark.parametrize(
    ("case", "check"),
    [("fork", "banned_import"), ("write-file", "banned_call"), ("socket", "banned_import"),
     ("ctypes-segfault", "banned_import"), ("segfault", "banned_import")],
    ids=["fork", "write-file", "socket", "ctypes", "segfault"],
)  # fmt: skip
def test_static_checks_stop_escapes_before_anything_runs(case: str, check: str, tmp_path: Path
                                                         ) -> None:  # fmt: skip
    design, _ = _variant(tmp_path, ESCAPES[case][0])
    report = check_design(design)
    assert report.errors[0].check == check
    assert report.errors[0].file == "units/mlp.py"
    assert "build" not in report.stages  # no code of the design ran


def test_defaults_are_the_documented_limits() -> None:
    config = CheckConfig()
    assert (config.timeout_s, config.memory_limit_mb) == (60.0, 4096)


def test_child_ends_when_its_caller_is_killed(tmp_path: Path) -> None:
    # The fork server outlives a killed caller while its child runs; the child's watchdog
    # sees the event pipe's reader gone and ends it, long before its own 600 s timeout.
    import signal
    import subprocess
    import sys

    import psutil

    design, _ = _variant(tmp_path, "while True:\n    pass")
    code = (
        "from genesys_tui.checker import CheckConfig, check_runtime\n"
        "from genesys_tui.design import load_design\n"
        f"check_runtime(load_design({str(design.path)!r}), CheckConfig(timeout_s=600.0))\n"
    )
    caller = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 120
        spawned: list[psutil.Process] = []
        while time.monotonic() < deadline and not any(p.ppid() != caller.pid for p in spawned):
            time.sleep(0.5)  # until the fork server has forked the checking child
            spawned = psutil.Process(caller.pid).children(recursive=True)
        assert any(p.ppid() != caller.pid for p in spawned), "the checking child never started"
        time.sleep(1.0)
        caller.send_signal(signal.SIGKILL)
        caller.wait()
        _, alive = psutil.wait_procs(spawned, timeout=20)
        assert alive == []
    finally:
        caller.kill()
