"""The wall: a job in a bubblewrap cell sees no network, no secret and no writable file outside
its scratch directory, and leaves no process behind. Real bubblewrap; skipped only where it
cannot run (CI installs it)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from genesys_tui import wall
from genesys_tui.wall import CellPool, CellSpec, SandboxUnavailable, Wall

REPO = Path(__file__).resolve().parents[2]
needs_bwrap = pytest.mark.skipif(wall.probe() is not None, reason=f"no sandbox: {wall.probe()}")
FAKE_KEY = "sk-ant-FAKEKEY-wall-test-0123456789abcdef"

JOBS = '''
import os, socket, subprocess, time

def echo(channel, x):
    channel.emit({"step": 1})
    answer = channel.ask({"q": "pick"})
    return {"x": x, "answer": answer, "uid": os.getuid(), "env": dict(os.environ)}

def write(channel, target):
    try:
        with open(target, "w") as fh:
            fh.write("escaped")
        return "written"
    except OSError as exc:
        return f"refused: {exc}"

def connect(channel, port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return "connected"
    except OSError as exc:
        return f"refused: {exc}"

def spawn(channel, marker):
    # a grandchild that would outlive the job: it sleeps, then writes the marker
    subprocess.Popen(["/bin/sh", "-c", f"sleep 3; echo alive > {marker}"], start_new_session=True)
    os.fork() or time.sleep(30)
    return "spawned"

def read(channel, path):
    try:
        with open(path) as fh:
            return fh.read()[:100]
    except OSError as exc:
        return f"refused: {exc}"

def listing(channel, path):
    return sorted(os.listdir(path))

def hang(channel):
    while True:
        pass

def leave(channel):
    # files for the caller, a link to a file outside, a subdirectory, and a process that would
    # keep writing into one of the files after the job returned
    os.makedirs("out/sub")
    with open("out/kept.txt", "w") as fh:
        fh.write("kept")
    os.symlink("/etc/hostname", "out/link")
    subprocess.Popen(["/bin/sh", "-c", "sleep 2; echo late >> out/kept.txt"])
    return "left"

def linger(channel, n, hang):
    # processes that outlive the job's own process unless the cell's end kills them
    for _ in range(n):
        subprocess.Popen(["sleep", "600"], start_new_session=True)
    channel.ask({"started": n})  # the caller looks at the cell's processes meanwhile
    channel.emit({"hanging": hang})
    while hang:
        time.sleep(1)
    return "left"

def pause(channel, seconds):
    channel.emit({"sleeping": seconds})
    time.sleep(seconds)
    return "slept"

def count(channel):
    for step in range(1000):
        channel.emit({"step": step})
        time.sleep(0.01)
    return "finished"
'''


@pytest.fixture
def jobs(tmp_path: Path) -> CellSpec:
    (tmp_path / "wall_jobs.py").write_text(JOBS, encoding="utf-8")
    return CellSpec(read_only=(str(tmp_path),), env=(("PYTHONPATH", str(tmp_path)),))


def run(spec: CellSpec, func: str, mode: str = "bwrap", **kwargs):
    pool = CellPool(Wall(mode=mode), spares=False)
    try:
        return pool.run(spec, f"wall_jobs:{func}", kwargs, timeout=20, ready_timeout=60)
    finally:
        pool.close()


@needs_bwrap
def test_a_job_runs_relays_events_answers_and_sees_no_secret(jobs, monkeypatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", FAKE_KEY)
    events: list[dict] = []
    pool = CellPool(Wall(), spares=False)
    try:
        out = pool.run(jobs, "wall_jobs:echo", {"x": 3}, on_event=events.append,
                       on_ask=lambda q: [q["q"], 7])  # fmt: skip
    finally:
        pool.close()
    assert out.ok, out.error + out.stderr
    assert out.value["x"] == 3 and out.value["answer"] == ["pick", 7]
    assert events == [{"step": 1}]
    assert out.value["uid"] == 65534  # nobody inside
    assert "ANTHROPIC_API_KEY" not in out.value["env"]
    assert FAKE_KEY not in repr(out.value["env"])


@needs_bwrap
def test_nothing_is_written_outside_the_scratch_directory(jobs, tmp_path: Path) -> None:
    for target in (REPO / "ESCAPED.txt", tmp_path / "escaped.txt", Path.home() / "escaped.txt"):
        out = run(jobs, "write", target=str(target))
        assert out.ok, out.error + out.stderr
        assert not target.exists()
        if out.value == "written":
            # Only a path under /tmp the cell does not bind (a checkout cloned into /tmp) can be
            # written: it lands in the cell's private /tmp, which dies with the cell.
            assert target.is_relative_to("/tmp") and target.parent != tmp_path, target
        else:
            assert out.value.startswith("refused"), (target, out.value)


@needs_bwrap
def test_no_connection_reaches_a_listener_on_the_hosts_loopback(jobs) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.5)
    try:
        out = run(jobs, "connect", port=listener.getsockname()[1])
        assert out.ok and out.value.startswith("refused"), out.value
        with pytest.raises(TimeoutError):
            listener.accept()
    finally:
        listener.close()


@needs_bwrap
def test_no_process_outlives_its_job(jobs, tmp_path: Path) -> None:
    marker = tmp_path / "scratch-marker"
    spec = CellSpec(read_only=jobs.read_only, env=jobs.env)
    pool = CellPool(Wall(), spares=False)
    cell = pool.take(spec)
    try:
        out = cell.run("wall_jobs:spawn", {"marker": str(cell.scratch / "marker")}, timeout=20)
        assert out.ok
        time.sleep(4)  # the grandchild would have written its marker by now
        assert not (cell.scratch / "marker").exists()
    finally:
        cell.close()
        pool.close()
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert "sleep 3; echo alive" not in ps and not marker.exists()


@needs_bwrap
def test_the_users_files_are_out_of_sight(jobs, tmp_path: Path) -> None:
    secret = REPO / "designs" / "wall-test-secret.txt"  # a checkout's other files
    secret.parent.mkdir(exist_ok=True)
    secret.write_text("private", encoding="utf-8")
    try:
        out = run(jobs, "read", path=str(secret))
        assert out.ok and out.value.startswith("refused"), out.value
        assert run(jobs, "read", path="/etc/shadow").value.startswith("refused")
    finally:
        secret.unlink()


@needs_bwrap
def test_hidden_files_and_directories_read_as_empty_inside_a_readable_tree(
    jobs, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    (data / "held-out").mkdir(parents=True)
    (data / "held-out" / "tokens.bin").write_text("scored text")
    (data / "test.txt").write_text("test text")
    (data / "train.txt").write_text("train text")
    spec = CellSpec(read_only=(*jobs.read_only, str(data)), env=jobs.env,
                    hidden=(str(data / "held-out"), str(data / "test.txt")))  # fmt: skip
    assert run(spec, "read", path=str(data / "train.txt")).value == "train text"
    assert run(spec, "read", path=str(data / "test.txt")).value == ""
    assert run(spec, "listing", path=str(data / "held-out")).value == []
    assert run(spec, "write", target=str(data / "test.txt")).value.startswith("refused")
    assert run(spec, "write", target=str(data / "held-out" / "x")).value.startswith("refused")
    # the same cell without the hidden paths sees them: the test can fail
    seen = CellSpec(read_only=spec.read_only, env=jobs.env)
    assert run(seen, "read", path=str(data / "test.txt")).value == "test text"


@needs_bwrap
def test_a_cell_outlives_the_thread_that_started_it(jobs) -> None:
    # Bubblewrap's --die-with-parent follows the thread that started it, not the process: a
    # spare cell a worker thread started died when that worker ended, in the middle of the job
    # another thread ran in it (a confirmation's audit died so, 'died' with no answer).
    import threading

    pool = CellPool(Wall(), spares=True)
    taken = []

    def worker() -> None:
        taken.extend([pool.take(jobs), pool.take(jobs)])  # a cell and the spare taken after it
        assert all(cell.wait_ready(60) for cell in taken)
        time.sleep(0.5)  # bubblewrap has armed its death signal by now

    try:
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
        time.sleep(1.0)  # time for a death signal to arrive
        for cell in taken:
            outcome = cell.run("wall_jobs:pause", {"seconds": 1}, timeout=20, ready_timeout=60)
            assert outcome.status == "return" and outcome.value == "slept", outcome
            cell.close()
    finally:
        pool.close()


def test_a_cancel_kills_its_owners_cells_and_no_others(jobs) -> None:
    # A runner cancelling its jobs killed every running cell of the process, a study's
    # confirmation running beside it included (its audit died).
    import threading

    shared = Wall(mode="bwrap" if wall.probe() is None else "none")
    cancelled, other = object(), object()
    outcomes, sleeping = {}, {cancelled: threading.Event(), other: threading.Event()}

    def job(owner: object) -> None:
        with wall.owned_by(owner):
            outcomes[owner] = wall.run_walled(
                shared, jobs, "wall_jobs:pause", {"seconds": 4}, timeout=60, ready_timeout=60,
                on_event=lambda event: sleeping[owner].set(),
            )  # fmt: skip

    threads = [threading.Thread(target=job, args=(o,)) for o in (cancelled, other)]
    try:
        for thread in threads:
            thread.start()
        assert all(event.wait(60) for event in sleeping.values())
        wall.kill_running(cancelled)
        for thread in threads:
            thread.join(60)
    finally:
        wall.close_spares()
    assert outcomes[cancelled].status == "died"
    assert outcomes[other].status == "return" and outcomes[other].value == "slept"


@needs_bwrap
def test_a_job_past_its_timeout_is_killed(jobs) -> None:
    pool = CellPool(Wall(), spares=False)
    t0 = time.monotonic()
    try:
        out = pool.run(jobs, "wall_jobs:hang", {}, timeout=2, ready_timeout=60)
    finally:
        pool.close()
    assert out.status == "timeout" and time.monotonic() - t0 < 60


def test_without_bubblewrap_model_written_designs_are_refused(monkeypatch) -> None:
    monkeypatch.setattr(wall, "probe", lambda: "bubblewrap (bwrap) is not installed")
    wall.configure(sandbox=True)
    with pytest.raises(SandboxUnavailable, match=r"apt-get install bubblewrap.*--no-sandbox"):
        wall.current()
    try:
        wall.configure(sandbox=False)
        assert wall.current() == Wall(mode="none") and wall.unsandboxed()
    finally:
        wall.configure(sandbox=True)


def test_evolve_without_a_sandbox_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    # PATH without bwrap: the probe finds none
    env = {**os.environ, "PATH": str(Path(sys.executable).parent),
           "GENESYS_DESIGNS_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "genesys_tui", "evolve", "--namespace", "w", "--max-designs", "1"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "bubblewrap" in lines[0] and "--no-sandbox" in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_the_unsandboxed_mode_runs_the_same_protocol(jobs, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    out = run(jobs, "echo", mode="none", x=5)
    assert out.ok and out.value["x"] == 5 and "OPENAI_API_KEY" not in out.value["env"]




def test_scratch_left_by_a_dead_process_is_swept_and_a_living_ones_kept(tmp_path: Path) -> None:
    from genesys_tui.wall.cell import SCRATCH_PREFIX
    from genesys_tui.wall.pool import sweep_stale

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f"{SCRATCH_PREFIX}{dead.pid}-abc"
    live = tmp_path / f"{SCRATCH_PREFIX}{os.getpid()}-def"
    other = tmp_path / "genesys-designs-xyz"
    for d in (stale, live, other):
        (d / "run").mkdir(parents=True)
        (d / "run" / "checkpoint.pt").write_bytes(b"x" * 100)
    assert sweep_stale(str(tmp_path)) == [stale]
    assert not stale.exists() and live.exists() and other.exists()


def test_a_subscriber_that_returns_stop_ends_the_job(jobs) -> None:
    seen: list[int] = []

    def on_event(event: dict) -> str | None:
        seen.append(event["step"])
        return wall.STOP if event["step"] == 5 else None

    pool = CellPool(Wall(mode="bwrap" if wall.probe() is None else "none"), spares=False)
    try:
        out = pool.run(jobs, "wall_jobs:count", {}, on_event=on_event, timeout=60)
    finally:
        pool.close()
    assert out.status == "stopped" and not out.ok
    assert seen == list(range(6))  # nothing after the stop reached the caller


@needs_bwrap
def test_collect_takes_plain_files_once_the_cell_is_dead(jobs) -> None:
    pool = CellPool(Wall(), spares=False)
    try:
        out = pool.run(jobs, "wall_jobs:leave", {}, timeout=20, ready_timeout=60, collect="out")
        assert out.ok and out.collected is not None
        assert out.collected.parent == wall.taken_root()
        assert sorted(p.name for p in out.collected.iterdir()) == ["kept.txt"]
        time.sleep(3)  # the job's straggler would have appended by now
        assert (out.collected / "kept.txt").read_text() == "kept"
        shutil.rmtree(out.collected)
    finally:
        pool.close()


@needs_bwrap
@pytest.mark.parametrize("end", ["return", "stopped", "timeout"])
def test_every_process_of_the_cell_is_gone_when_its_job_ends(jobs, end: str) -> None:
    import psutil

    pool = CellPool(Wall(), spares=False)
    cell = pool.take(jobs)
    tree: list[psutil.Process] = []

    def on_ask(question: dict) -> None:  # the job has started its processes and waits
        tree.extend(psutil.Process(cell.proc.pid).children(recursive=True))

    def on_event(event: dict) -> str | None:
        return wall.STOP if end == "stopped" else None

    def runs(process: psutil.Process) -> bool:  # a zombie runs nothing
        try:
            return process.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    try:
        out = cell.run("wall_jobs:linger", {"n": 20, "hang": end != "return"},
                       on_event=on_event, on_ask=on_ask,
                       timeout=20 if end == "return" else 3, ready_timeout=60)  # fmt: skip
        left = [f"{p.pid} {p.name()}" for p in tree if runs(p)]  # looked at once: no wait here
    finally:
        cell.close()
        pool.close()
    assert out.status == end and len(tree) >= 22, (out.status, tree)  # init, job, 20 sleeps
    assert not left, f"processes of the cell outlived its job: {left}"
