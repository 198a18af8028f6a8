"""The operating-system wall around design code: bubblewrap (``bwrap``), one sandbox per job.

``Wall.command`` turns the command line of a process that will run design code into one that
runs it inside a fresh bubblewrap sandbox:

- new user, PID, network, IPC, UTS and cgroup namespaces (``--unshare-all``): no network at
  all, not even the host's loopback; the process tree is a PID namespace of its own, so
  nothing it starts outlives it; ``--die-with-parent`` ends it with the process that started it;
  ``--new-session`` keeps it off the caller's terminal;
- an unprivileged user inside (uid/gid 65534, no capabilities);
- a filesystem that is read-only and holds only what Python, torch and Genesys need (the
  system's library and binary directories, Python's prefix and import path, the few files of
  /etc a process reads, the directories the job names read-only), a private /tmp and /dev, and
  one writable directory: the job's scratch directory; paths the job names hidden (inside
  those) read as empty: the held-out text a verify cell is scored on;
- an empty environment plus an allow-list (threads, CUDA_VISIBLE_DEVICES, offline flags); no
  key, token or secret enters;
- address-space, CPU-time and core-dump limits, set by ``prlimit`` before bwrap starts;
- GPU device nodes only when the job asks for them (verify jobs that train on a GPU).

``Wall(mode="none")`` runs the same command without a sandbox (``--no-sandbox``): the clean
environment and the limits stay, the wall does not.
"""

from __future__ import annotations

import functools
import glob
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

#: Environment variables a sandboxed job may see (their values are copied from the caller).
ALLOWED_ENV = (
    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY", "CUDA_VISIBLE_DEVICES",
    "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "PYTHONPATH",
    "PYTHONHASHSEED", "LANG", "LC_ALL", "TZ",
)  # fmt: skip
#: Files of /etc a Python process reads (name lookups, locale, time zone, the loader's cache).
ETC_FILES = (
    "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf",
    "/etc/localtime", "/etc/hosts", "/etc/host.conf", "/etc/resolv.conf", "/etc/mime.types",
)  # fmt: skip
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/opt/conda")
GPU_NODES = ("/dev/nvidia*", "/dev/nvidia-caps", "/dev/dri")
#: The unprivileged user and group a sandboxed job runs as.
NOBODY = 65534
HINT = (
    "install bubblewrap (Debian/Ubuntu: `apt-get install bubblewrap`; Fedora: `dnf install "
    "bubblewrap`) and allow unprivileged user namespaces, or pass --no-sandbox to run "
    "model-written designs without it (not recommended)"
)


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed job (0: none)."""

    memory_mb: int = 0  # address space
    cpu_s: int = 0  # CPU seconds, all threads together


@dataclass(frozen=True)
class Wall:
    """How processes that run design code are walled in: ``mode`` "bwrap" or "none"."""

    mode: str = "bwrap"
    read_only: tuple[str, ...] = field(default_factory=tuple)  # extra paths bound read-only

    @property
    def sandboxed(self) -> bool:
        return self.mode == "bwrap"

    def env(self, extra: Mapping[str, str], scratch: Path) -> dict[str, str]:
        """The job's whole environment: the allow-list from this process, ``extra`` (which may
        only name allowed variables or GENESYS_CACHE), HOME and TMPDIR in the scratch directory."""
        env = {k: os.environ[k] for k in ALLOWED_ENV if k in os.environ}
        for key, value in extra.items():
            if key not in ALLOWED_ENV and key != "GENESYS_CACHE":
                raise ValueError(f"{key} may not enter a sandbox (allowed: {ALLOWED_ENV})")
            env[key] = value
        env.update(
            PATH="/usr/local/bin:/usr/bin:/bin",
            HOME=str(scratch),
            TMPDIR=str(scratch / "tmp"),
            HF_HOME=str(scratch / "hf"),
            PYTHONDONTWRITEBYTECODE="1",
            PYTHONNOUSERSITE="1",
        )
        return env

    def command(
        self,
        argv: Sequence[str],
        scratch: Path,
        limits: Limits = Limits(),
        gpu: bool = False,
        read_only: Sequence[str | Path] = (),
        hidden: Sequence[str | Path] = (),
    ) -> list[str]:
        """``argv`` wrapped in the limits and (mode "bwrap") the sandbox; ``scratch`` is the one
        writable directory; ``hidden`` files read as empty and hidden directories as empty
        directories inside it (mode "none" hides nothing)."""
        prefix = ["prlimit", "--core=0"]
        if limits.memory_mb:
            prefix.append(f"--as={limits.memory_mb * 2**20}")
        if limits.cpu_s:
            prefix.append(f"--cpu={limits.cpu_s}:{limits.cpu_s + 5}")
        prefix.append("--")
        if not self.sandboxed:
            return prefix + list(argv)
        paths = [*self.read_only, *read_only]
        return prefix + self._bwrap(scratch, gpu, paths, hidden) + ["--", *argv]

    def _bwrap(self, scratch: Path, gpu: bool, read_only: Sequence[str | Path],
               hidden: Sequence[str | Path] = ()) -> list[str]:  # fmt: skip
        cmd = [_bwrap_path(), "--unshare-all", "--die-with-parent", "--new-session",
               "--uid", str(NOBODY), "--gid", str(NOBODY), "--cap-drop", "ALL",
               "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]  # fmt: skip
        for path in SYSTEM_DIRS:
            if os.path.lexists(path):
                cmd += ["--ro-bind", path, path] if not os.path.islink(path) else [
                    "--symlink", os.readlink(path), path]  # fmt: skip
        for path in ETC_FILES:
            cmd += ["--ro-bind-try", path, path]
        for path in _python_paths() + [str(Path(p).resolve()) for p in read_only]:
            cmd += ["--ro-bind-try", path, path]
        scratch = scratch.resolve()
        for path in (Path(p).resolve() for p in hidden):  # over the binds above, so after them
            if path.is_dir():
                cmd += ["--tmpfs", str(path), "--remount-ro", str(path)]
            elif path.exists():  # an empty file of our own (device nodes do not open there)
                empty = scratch / ".empty"
                empty.touch()
                cmd += ["--ro-bind", str(empty), str(path)]
        if gpu:
            for pattern in GPU_NODES:
                for node in glob.glob(pattern):
                    cmd += ["--dev-bind", node, node]
        cmd += ["--bind", str(scratch), str(scratch), "--chdir", str(scratch)]
        # The sandbox's own root (where bwrap made the mount points) is read-only too; the
        # private /tmp and the scratch directory are mounts of their own and stay writable.
        return [*cmd, "--remount-ro", "/"]


@functools.cache
def _bwrap_path() -> str:
    return shutil.which("bwrap") or "bwrap"


def _python_paths() -> list[str]:
    """Python's prefixes and the directories on its import path, resolved (read-only). The
    directory Genesys itself is imported from gives only its package and library: a checkout's
    other files (designs repositories, git objects) stay out of sight."""
    root = _package_root()
    seen: list[str] = []
    for p in [sys.prefix, sys.base_prefix, sys.exec_prefix, *sys.path[1:]]:
        if not p or not os.path.isdir(p):
            continue
        real = str(Path(p).resolve())
        if real not in seen and real not in ("/", root):
            seen.append(real)
    from genesys_tui.resources import library_dir

    seen += [str(Path(root) / "genesys_tui"), str(library_dir().resolve())]
    return seen


def _package_root() -> str:
    return str(Path(__file__).resolve().parents[2])


@functools.cache
def probe() -> str | None:
    """None when a bubblewrap sandbox can be made here; otherwise why not, in one line."""
    if not sys.platform.startswith("linux"):
        return f"no sandbox on {sys.platform}: Genesys walls design code in with Linux's bubblewrap"
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed"
    scratch = Path(os.environ.get("TMPDIR", "/tmp"))
    cmd = [*Wall()._bwrap(scratch, False, ()), "--", sys.executable, "-c", "print('ok')"]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=30, text=True, env={})
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap did not start: {exc}"
    if done.returncode != 0 or done.stdout.strip() != "ok":
        err = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return f"bubblewrap could not make a sandbox here ({err})"
    return None
