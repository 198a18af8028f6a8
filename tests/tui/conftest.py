"""Namespaces built by the tests with the real store, on a frozen clock so that commit ids,
dates and screenshots are the same on every run.

``pilot_ns``: the library's GPT and RetNet seeds, a mutation and a crossover made by the offline
designer, checks, first-rung results and fitness, a loss curve and a dialogue in the event log.
``snapshot_ns``: the same shape from hand-written variants of GPT (no designer code), so the
snapshots change only when the dashboard does.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from genesys_tui.design import load_design
from genesys_tui.designer import DesignRequest, Parent, Proposal
from genesys_tui.evolve import events as ev
from genesys_tui.evolve.offline import OfflineDesigner
from genesys_tui.evolve.pool import UnitPool
from genesys_tui.store.library import import_library
from genesys_tui.store.repo import DesignsRepo
from genesys_tui.tui.curves import CurveLog, curves_dir
from genesys_tui.tui.sampler import FixedSampler, GpuSample, ResourceSample

LIBRARY = Path(__file__).resolve().parents[2] / "library"
SEEDS = [LIBRARY / "gpt", LIBRARY / "retnet"]
T0 = 1_750_000_000.0  # 2025-06-15 15:06:40 UTC


@contextmanager
def frozen_clock() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(time, "time", lambda: T0)
        yield


def rung_result(bpb: float, accuracy: float, score: float) -> dict[str, object]:
    return {
        "scores": {"score": score, "bpb": bpb, "eval/genblimp": accuracy},
        "seconds": 42.0,
        "tokens": 65_536,
        "params": 1_234_567,
        "detail": {"ok": True, "evals": {"genblimp": accuracy}},
    }


def passed() -> dict[str, object]:
    return {"ok": True, "summary": "passed", "findings": [], "seconds": 3.5}


def _files(design_dir: Path) -> dict[str, str]:
    return {
        p.relative_to(design_dir).as_posix(): p.read_text()
        for p in sorted(design_dir.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def _variant(files: dict[str, str], name: str, expand: int, heads: int, why: str) -> dict[str, str]:
    data = json.loads(files["design.json"])
    data["name"] = name
    data["units"]["mlp"]["args"]["expand"] = expand
    data["units"]["attn"]["args"]["n_heads"] = heads
    proposal = f"# {name}\n\n## What changed\n\n- MLP expansion {expand}, {heads} heads.\n\n"
    proposal += f"## Why it might help\n\n{why}\n"
    return {**files, "design.json": json.dumps(data, indent=2) + "\n", "proposal.md": proposal}


def _log_dialogue(path: Path, lines: list[tuple[str, str]]) -> None:
    bus = ev.EventBus(path / ".git" / "genesys" / "events.jsonl")
    for role, text in lines:
        bus.emit(ev.Dialogue(role=role, text=text, session="design-1", ts=T0))
    bus.close()


def _log_curve(path: Path, design: str, rung: str, steps: int = 40) -> None:
    log = CurveLog(curves_dir(path))
    for step in range(1, steps + 1):
        loss = 2.0 + 6.0 / (1 + 0.25 * step)
        log.record(ev.TrainingProgress(design, rung, step, steps, loss, 1000.0, ts=T0))


def build_snapshot_namespace(path: Path) -> Path:
    with frozen_clock(), DesignsRepo.create(path, seeds=False) as repo:
        import_library(repo, [LIBRARY / "gpt"])
        gpt = _files(LIBRARY / "gpt")
        wide = repo.commit_design(
            _variant(gpt, "gpt-wide", 8, 4, "A wider MLP stores more per token."),
            parents=["gpt-1"], designer="offline-mutator", title="Wider MLP (expand 8)",
        )  # fmt: skip
        heads = repo.commit_design(
            _variant(gpt, "gpt-heads", 4, 8, "More heads attend to more patterns at once."),
            parents=["gpt-1"], designer="offline-mutator", title="Eight attention heads",
        )  # fmt: skip
        cross = repo.commit_design(
            _variant(gpt, "gpt-cross", 8, 8, "Both changes together."),
            parents=[wide.id, heads.id], designer="offline-mutator", title="Wide MLP, 8 heads",
        )  # fmt: skip
        bad = repo.commit_design(
            _variant(gpt, "gpt-narrow", 1, 4, "A narrow MLP is cheaper."),
            parents=[heads.id], designer="offline-mutator", title="Narrow MLP (expand 1)",
        )  # fmt: skip
        for design in ("gpt-1", wide.id, heads.id, cross.id):
            repo.attach(design, "check", passed())
        finding = {
            "check": "param_budget", "severity": "error", "stage": "params",
            "message": "1.9M parameters, over the rung's budget of 1.5M",
            "hint": "reduce expand", "file": "design.json", "line": None, "unit": "mlp",
            "code": None, "location": "",
        }  # fmt: skip
        repo.attach(
            bad.id, "check", {"ok": False, "summary": "param_budget", "findings": [finding]}
        )
        for design, bpb, acc, score in (
            ("gpt-1", 2.10, 0.61, 0.50),
            (wide.id, 2.04, 0.63, 0.56),
            (heads.id, 2.15, 0.60, 0.47),
            (cross.id, 2.01, 0.66, 0.60),
        ):
            repo.attach(design, "rung:cpu-xs", rung_result(bpb, acc, score))
            if design != "gpt-1":
                repo.attach(design, "fitness", {"value": round(score - 0.50, 4)})
        repo.attach(cross.id, "rung:cpu-s", rung_result(1.82, 0.70, 0.66))
    _log_curve(path, cross.id, "cpu-xs")
    _log_dialogue(
        path,
        [
            ("designer", "crossover: attention from gpt-heads-3, MLP from gpt-wide-2\n"),
            ("designer", "- Took `mlp` (expand 8) from gpt-wide-2.\n"),
        ],
    )
    return path


def build_pilot_namespace(path: Path) -> Path:
    designer = OfflineDesigner(UnitPool.from_designs([load_design(p) for p in SEEDS]))
    with frozen_clock(), DesignsRepo.create(path, seeds=False) as repo:
        seeds = import_library(repo, SEEDS)

        def make(kind: str, parents: list[str], seed: int) -> str:
            request = DesignRequest(
                kind,  # type: ignore[arg-type]
                tuple(Parent(p, repo.read_design(p)) for p in parents),
                seed=seed,
            )
            out = designer.design(request)
            assert isinstance(out, Proposal), out
            files = {"design.json": out.design.to_json(), **out.design.sources, **out.files}
            record = repo.commit_design(
                files, parents=parents, designer=designer.name, title=out.title,
                summary=out.rationale,
            )  # fmt: skip
            return record.id

        mutation = make("mutation", [seeds[0].id], seed=1)
        crossover = make("crossover", [mutation, seeds[1].id], seed=2)
        for i, design in enumerate([seeds[0].id, seeds[1].id, mutation, crossover]):
            repo.attach(design, "check", passed())
            repo.attach(design, "rung:cpu-xs", rung_result(2.1 - 0.05 * i, 0.6, 0.5 + 0.02 * i))
            if i >= 2:
                repo.attach(design, "fitness", {"value": 0.02 * i - 0.01})
    _log_curve(path, mutation, "cpu-xs")
    _log_dialogue(path, [("designer", f"made {crossover} from {mutation} and {seeds[1].id}\n")])
    return path


@pytest.fixture(scope="session")
def _pilot_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_pilot_namespace(tmp_path_factory.mktemp("template") / "designs" / "run")


@pytest.fixture
def pilot_ns(_pilot_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the pilot namespace (tests may run a loop in it)."""
    target = tmp_path / "designs" / "run"
    shutil.copytree(_pilot_template, target, symlinks=True)
    return target


@pytest.fixture(scope="session")
def snapshot_ns(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_snapshot_namespace(tmp_path_factory.mktemp("snap") / "designs" / "run")


def fixed_sampler() -> FixedSampler:
    """Resource figures that never change: two CPUs' worth of history, one GPU."""
    gib = 2**30
    samples = [
        ResourceSample(
            cpu_percent=float(p),
            memory_used=(6 + i % 3) * gib,
            memory_total=24 * gib,
            gpus=(GpuSample(0, "NVIDIA H200", float(90 - p // 2), 60 * gib, 141 * gib),),
        )
        for i, p in enumerate([12, 30, 55, 80, 95, 70, 40, 65, 90, 100, 85, 60])
    ]
    return FixedSampler(samples)
