"""The README runs as written: its shell examples are read from README.md itself and run, bounded
(the tiny cpu-xs rung, few pairs, one thread, a temporary directory and designs root, offline),
so a renamed flag, a command that stops working or an output that changes breaks a test.

Commands that need the network, an API key, a GPU server, real BLiMP files or minutes of timing
are not run; they are parsed by the ``genesys`` argument parser, as is every ``genesys ...``
span of the README's text, so a renamed flag still breaks a test. The only edits made to a
README command before it runs are the ones in ``bound`` below.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from genesys_tui.cli import COMMANDS, build_parser
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")

pytestmark = pytest.mark.slow


def blocks(lang: str) -> list[str]:
    """The fenced code blocks of ``lang`` in the README, in order."""
    return re.findall(rf"^```{lang}\n(.*?)^```", README, re.MULTILINE | re.DOTALL)


def commands(block: str) -> list[str]:
    """A bash block's commands: continuation lines joined, comments and blank lines dropped."""
    out = []
    for line in block.replace("\\\n", " ").splitlines():
        line = " ".join(re.sub(r"(^|\s+)#\s.*$", "", line).split())  # a comment needs "# "
        if line:
            out.append(line)
    return out


def block_with(text: str) -> list[str]:
    (found,) = [b for b in blocks("bash") if text in b]
    return commands(found)


#: Commands not run, and why (they are parsed where they are genesys commands).
NOT_RUN = {
    r"^pip install": "installs packages (test_setup_commands_are_what_ci_runs checks them)",
    r"^(sudo )?apt-get ": "installs a system package (.ci/run installs bubblewrap itself)",
    r"^export \w+_API_KEY": "an API key",
    r"^vllm ": "a model server on a GPU",
    r"--designer \"?(anthropic|openai)": "an API key or a model server",
    r"^genesys stats --namespace claude-run": "the namespace of the run above",
    r"--blimp-dir": "real BLiMP files, which are never copied into the project",
    r"^genesys bench --scaling": "minutes of timing on a quiet machine",
    r"^python -m genesys_tui.bench.discovery ": "hours of evolution (tests/test_discovery.py)",
    r"^ray start ": "starts a Ray cluster (tests/evolve/test_ray_runner.py starts a local one)",
    r"--runner ray": "a Ray cluster (tests/evolve/test_ray_runner.py runs evolve on Ray)",
    r"^python -m genesys_tui.bench.runners ": "minutes of timing, Ray against the local runner",
    r"^python -m genesys_tui.bench.audit ": "minutes of verifications (tests/verify/test_graph.py)",
    r"^lm_eval ": "lm-eval's hub tasks (its hf model on local requests: tests/test_export.py)",
    # lm-eval's CLI indexes all of its own tasks first (20 s and more); the same two steps on a
    # tiny checkpoint run in tests/verify/test_eval_lm.py
    r"^genesys lm-eval run ": "lm-eval's task index (test_lm_eval_on_a_task_folder_...)",
}


def not_run(cmd: str) -> str | None:
    return next((why for pattern, why in NOT_RUN.items() if re.search(pattern, cmd)), None)


def bound(cmd: str) -> str:
    """The README command made cheap: the tiny rung, few pairs and documents, one thread."""
    cmd = cmd.replace("--rung cpu-s", "--rung cpu-xs")
    if re.match(r"genesys (train|verify|eval) ", cmd):
        cmd += " --threads 1"
    if cmd.startswith("genesys eval "):
        cmd += " --pairs 20 --limit 40"
    if cmd.startswith("genesys lm-eval run "):
        cmd += " --limit 20"
    return cmd


def parse(cmd: str) -> None:
    """Parse a genesys command line (the dashboard's too) without running it."""
    words = shlex.split(cmd)
    assert words[0] == "genesys", cmd
    build_parser().parse_args(words[1:])


@pytest.fixture
def shell(tmp_path: Path):
    """Run README commands one by one in a scratch directory, as a user would in a shell."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    python = shlex.quote(sys.executable)
    for name, line in (("genesys", f"{python} -m genesys_tui"), ("python", python)):
        (bin_dir / name).write_text(f'#!/bin/sh\nexec {line} "$@"\n')
        (bin_dir / name).chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "tmp").mkdir()
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        "TMPDIR": str(tmp_path / "tmp"),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
    }
    env.pop("GENESYS_DESIGNS_DIR", None)  # designs/ under the scratch directory, as written
    state = {"cwd": work}

    def run(cmd: str) -> str:
        if cmd.startswith("cd "):
            state["cwd"] = state["cwd"] / shlex.split(cmd)[1]
            assert state["cwd"].is_dir(), cmd
            return ""
        done = subprocess.run(
            ["bash", "-c", bound(cmd)],
            cwd=state["cwd"],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, f"{cmd}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done.stdout

    run.tmp = tmp_path / "tmp"  # type: ignore[attr-defined]
    run.cwd = lambda: state["cwd"]  # type: ignore[attr-defined]
    return run


def run_block(shell, cmds: list[str]) -> dict[str, str]:
    out = {}
    for cmd in cmds:
        if not_run(cmd):
            if cmd.startswith("genesys "):
                parse(cmd)
            continue
        out[cmd] = shell(cmd)
    return out


# ------------------------------------------------------------------------- set up and flags


def test_setup_commands_are_what_ci_runs() -> None:
    setup = [c for b in blocks("bash")[:3] for c in commands(b)]
    assert any(c.endswith("&& genesys") for c in setup)  # one runs genesys
    (tests,) = [c for c in setup if "pytest" in c]  # one runs the tests
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    steps = [s.strip() for s in tests.split("&&")]
    *installs, last = steps
    for step in installs:
        assert step in ci, f"README step {step!r} is not a line of .ci/run"
    *env, python, m, pytest_, q = shlex.split(last)
    assert f"export {' '.join(env)}" in ci and f"{python} {m} {pytest_} {q}" in ci
    assert any("download.pytorch.org/whl/cpu" in c for c in setup)  # the CPU wheel, stock pip


def test_every_genesys_command_and_flag_the_readme_names_exists() -> None:
    parser = build_parser()
    subs = next(a for a in parser._actions if a.dest == "command").choices  # type: ignore[attr-defined]
    spans = re.findall(r"`(genesys(?: [^`]*)?)`", README)
    spans += [c for b in blocks("bash") for c in commands(b) if c.startswith("genesys")]
    checked = 0
    for span in spans:
        words = span.split()
        sub = words[1] if len(words) > 1 and words[1] in COMMANDS else None
        if sub == "lm-eval":
            continue  # its flags are lm-eval's
        command = subs[sub] if sub else parser
        # A command with commands of its own (`genesys study noise`): the flags are the named one's
        nested = [
            a for a in command._actions if isinstance(a.choices, dict) and a.option_strings == []
        ]
        if nested and len(words) > 2 and words[2] in nested[0].choices:  # type: ignore[operator]
            command = nested[0].choices[words[2]]  # type: ignore[index]
        known = {o for a in command._actions for o in a.option_strings}
        for flag in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", span):
            assert flag in known, f"README: {span!r}: genesys {sub or ''} has no {flag}"
            checked += 1
    assert checked > 40


def test_commands_that_are_not_run_still_parse() -> None:
    parsed = [c for b in blocks("bash") for c in commands(b) if not_run(c) and c[:8] == "genesys "]
    for cmd in parsed:
        parse(cmd)
    assert len(parsed) >= 5


# ------------------------------------------------------------------------------- run them


def test_the_python_example_runs_from_any_directory(tmp_path: Path) -> None:
    (snippet,) = [b for b in blocks("python") if "build_lm" in b]
    done = subprocess.run(
        [sys.executable, "-c", snippet],
        cwd=tmp_path,  # not the checkout: library designs are found by name
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "3148032"  # the library table's GPT at D 256, 4 layers
    assert "3,148,032" in README


def test_the_evaluation_examples_run(shell) -> None:
    import json

    cmds = block_with("genesys lm-eval run")
    out = run_block(shell, cmds)
    verify = json.loads(out[cmds[0]])
    assert verify["ok"] and verify["bpb"] > 0 and verify["weights_sha256"]  # tasks skipped too
    evaluated = [text for cmd, text in out.items() if cmd.startswith("genesys eval")]
    assert any("genblimp" in t and "unigram" in t for t in evaluated)  # --baselines
    tasks_dir = next(c for c in cmds if "--tasks-dir" in c).split("--tasks-dir ")[1].split()[0]
    assert f"--include_path {tasks_dir}" in cmds[-1]  # lm-eval reads the folder eval wrote
    assert (shell.cwd() / tasks_dir / "genblimp_a_an.yaml").is_file()


def test_the_designs_repository_examples_run(shell) -> None:
    cmds = block_with("git diff")
    out = run_block(shell, cmds)
    assert "passed the checker" in out[cmds[0]]  # --no-verify lists its designs
    tree = out[next(c for c in cmds if c.startswith("genesys tree"))]
    assert "gpt-1" in tree and "gpt-d031f1-6" in tree
    diff = out[next(c for c in cmds if c.startswith("git diff"))]
    assert "LayerNorm" in diff
    notes = out[next(c for c in cmds if c.startswith("git notes"))]
    assert '"check"' in notes


def test_the_loop_benchmark_runs_and_leaves_nothing_behind(shell) -> None:
    (cmd,) = {
        " ".join(c.split())
        for c in re.findall(r"`(python -m genesys_tui\.bench\.loop[^`]*)`", README)
    }
    out = shell(cmd.replace("--designs 1000", "--designs 20 --measure 5"))
    assert "loop overhead per design" in out
    assert not list(shell.tmp.glob("genesys-bench-loop-*"))


def test_the_export_and_generation_examples_run(shell) -> None:
    cmds = block_with("genesys export")
    out = run_block(shell, cmds)
    generated = out[next(c for c in cmds if c.startswith("genesys generate"))]
    assert generated.strip()  # a continuation was printed
    hf = shell.cwd() / "hf" / "gpt-xs"
    assert (hf / "model.safetensors").is_file() and (hf / "README.md").is_file()
    loaded = out[next(c for c in cmds if c.startswith("python -c"))]
    assert int(loaded.strip()) > 0
