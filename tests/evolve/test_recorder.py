"""What the recorder writes to the repository and the population for each finished job, and the
verify job the loop hands the runner. A small in-memory repository stands in for the store, so
these run in well under a second."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from genesys_tui import load_design
from genesys_tui.design import Design
from genesys_tui.designer import DesignFailure, Proposal
from genesys_tui.evolve import events as ev
from genesys_tui.evolve.loop import EvolutionLoop, hash_seed
from genesys_tui.evolve.population import member_from_store
from genesys_tui.evolve.recorder import Recorder
from genesys_tui.evolve.runner import Job, JobResult
from genesys_tui.evolve.selection import Choice
from genesys_tui.evolve.settings import EvolveConfig
from genesys_tui.results import CheckResult, RungResult

GPT = load_design("gpt")
RETNET = load_design("retnet")  # another structure: not a duplicate of GPT
RWKV7 = load_design("rwkv7")
RUNGS = ["cpu-xs", "cpu-s"]


@dataclass
class _Record:
    id: str
    seq: int
    commit: str
    parents: tuple[str, ...]
    origin: str
    status: str
    cost_usd: float = 0.0


@dataclass
class _Repo:
    """The few store calls the loop makes, kept in dicts."""

    records_: dict[str, _Record] = field(default_factory=dict)
    designs: dict[str, Design] = field(default_factory=dict)
    attached: dict[str, dict[str, Any]] = field(default_factory=dict)

    def commit_design(
        self,
        files: dict[str, str],
        *,
        parents: list[str],
        designer: str,
        title: str,
        summary: str,
        cost_usd: float = 0.0,
        status: str = "proposed",
        reason: str | None = None,
        name: str | None = None,
    ) -> _Record:
        seq = len(self.records_) + 1
        record = _Record(f"d-{seq}", seq, f"{seq:040x}", tuple(parents), "agent", status, cost_usd)
        self.records_[record.id] = record
        self.attached[record.id] = {}
        return record

    def add_seed(self, design_id: str, design: Design) -> _Record:
        record = _Record(design_id, len(self.records_) + 1, "0" * 40, (), "seed", "checked")
        self.records_[design_id] = record
        self.designs[design_id] = design
        self.attached[design_id] = {}
        return record

    def attach(self, design_id: str, kind: str, payload: dict[str, Any]) -> _Record:
        self.attached[design_id][kind] = payload
        record = self.records_[design_id]
        if kind == "check":
            record.status = "checked" if payload["ok"] else "rejected"
        elif kind.startswith("rung:") and payload["detail"]["ok"]:
            record.status = "verified"
        return record

    def get(self, design_id: str) -> _Record:
        return self.records_[design_id]

    def records(self) -> list[_Record]:
        return list(self.records_.values())

    def results(self, design_id: str) -> dict[str, Any]:
        return self.attached[design_id]

    def read_design(self, design_id: str) -> Design:
        return self.designs.get(design_id, GPT)

    def read_design_files(self, design_id: str) -> dict[str, str]:
        return {"design.json": self.read_design(design_id).to_json()}


class _Designer:
    name = "test-designer"

    def design(self, request: Any, say: Any = None) -> Any:
        raise AssertionError("not called in these tests")


class _Runner:
    def __init__(self) -> None:
        self.jobs: list[Job] = []

    def submit(self, job: Job, on_progress: Any = None) -> Future[JobResult]:
        self.jobs.append(job)
        return Future()

    def busy(self, pool: str) -> int:
        return 0

    def capacity(self, pool: str) -> int:
        return 1

    def nodes(self) -> list[Any]:
        return []

    def shutdown(self, cancel: bool = False) -> None:
        pass


@pytest.fixture
def repo() -> _Repo:
    repo = _Repo()
    repo.add_seed("gpt-1", GPT)
    return repo


@pytest.fixture
def events() -> list[ev.Event]:
    return []


@pytest.fixture
def recorder(repo: _Repo, events: list[ev.Event]) -> Recorder:
    bus = ev.EventBus()
    bus.subscribe(events.append)
    rec = Recorder(repo, RUNGS, bus, _Designer())
    rec.load()
    return rec


def _choice() -> Choice:
    return Choice("mutation", ("gpt-1",), "exploit")


def test_load_rebuilds_the_population_with_structural_hashes(recorder: Recorder) -> None:
    member = recorder.population.members["gpt-1"]
    assert member.is_seed and member.checked and member.structural


def test_a_proposal_is_committed_and_due_a_check(
    recorder: Recorder, repo: _Repo, events: list[ev.Event]
) -> None:
    design_id = recorder.design(_choice(), Proposal(RETNET, "a child", "why", cost_usd=0.5))
    assert design_id is not None and repo.get(design_id).status == "proposed"
    assert repo.attached[design_id]["novelty"]["duplicate_of"] == ""
    assert recorder.population.members[design_id].parents == ("gpt-1",)
    kinds = [type(e) for e in events]
    assert kinds == [ev.DesignProposed, ev.DesignCommitted, ev.CostUpdate]


def test_a_structural_duplicate_is_rejected_and_not_checked(
    recorder: Recorder, repo: _Repo
) -> None:
    design_id = recorder.design(_choice(), Proposal(GPT, "the parent again", "no change"))
    assert design_id is None
    (record,) = [r for r in repo.records() if r.origin != "seed"]
    assert record.status == "rejected"
    assert recorder.population.members[record.id].duplicate_of == "gpt-1"


def test_a_design_failure_is_committed_as_failed(recorder: Recorder, repo: _Repo) -> None:
    assert recorder.design(_choice(), DesignFailure("the designer gave up")) is None
    (record,) = [r for r in repo.records() if r.origin != "seed"]
    assert record.status == "failed"
    assert recorder.population.members[record.id].status == "failed"


def test_a_passed_check_marks_a_functional_duplicate(recorder: Recorder, repo: _Repo) -> None:
    recorder.population.members["gpt-1"].functional = "fp-1"
    design_id = recorder.design(_choice(), Proposal(RWKV7, "b", "why"))
    assert design_id is not None
    value = CheckResult(True, "passed", seconds=1.5, fingerprint="fp-1")
    recorder.check(design_id, JobResult(f"check-{design_id}", True, value, seconds=1.5))
    member = recorder.population.members[design_id]
    assert member.status == "checked" and member.duplicate_of == "gpt-1"
    assert repo.attached[design_id]["check"]["seconds"] == 1.5
    assert repo.attached[design_id]["novelty"]["functional"] == "fp-1"


def test_a_seed_is_never_rejected_and_its_failed_check_is_reported_loudly(
    recorder: Recorder, repo: _Repo, events: list[ev.Event]
) -> None:
    slow = "speed: a training step takes 180.0 CPU ms against 50.0 CPU ms: 3.60x"
    value = CheckResult(False, slow, ({"check": "speed"},))
    recorder.check("gpt-1", JobResult("check-gpt-1", True, value, seconds=4.0))
    assert recorder.population.members["gpt-1"].status == "checked"
    check = repo.attached["gpt-1"]["check"]
    assert check["ok"] and slow in check["summary"] and check["findings"] == [{"check": "speed"}]
    (error,) = [e for e in events if isinstance(e, ev.LoopError)]
    assert error.design == "gpt-1" and error.message.startswith("bug: the library seed gpt-1")
    # A grown design with the same findings is rejected as usual.
    design_id = recorder.design(_choice(), Proposal(RWKV7, "b", "why"))
    assert design_id is not None
    recorder.check(design_id, JobResult(f"check-{design_id}", True, value, seconds=4.0))
    assert recorder.population.members[design_id].status == "rejected"


def test_a_verified_rung_keeps_scores_evals_curve_notes_and_fitness(
    recorder: Recorder, repo: _Repo, events: list[ev.Event]
) -> None:
    value = RungResult(
        ok=True,
        scores={"score": 0.75, "bpb": 1.25},
        seconds=12.0,
        tokens=50_000,
        params=1_000,
        evals={"blimp": 0.5},
        curve=((1, 5.0), (2, 4.5)),
        notes=("tasks skipped: under 1M tokens",),
    ).to_wire()  # as the worker's result file holds it
    recorder.verify("gpt-1", "cpu-xs", JobResult("verify-gpt-1-cpu-xs", True, value))
    result = repo.attached["gpt-1"]["rung:cpu-xs"]
    assert result["scores"] == {"score": 0.75, "bpb": 1.25}
    assert (result["tokens"], result["params"], result["seconds"]) == (50_000, 1_000, 12.0)
    assert result["detail"] == {
        "ok": True,
        "evals": {"blimp": 0.5},
        "curve": [[1, 5.0], [2, 4.5]],
        "notes": ["tasks skipped: under 1M tokens"],
    }
    assert repo.attached["gpt-1"]["fitness"]["value"] == 0.0  # the only seed is its own baseline
    member = recorder.population.members["gpt-1"]
    assert member.rung_scores == {"cpu-xs": 0.75} and member.status == "verified"
    assert member.rung_seconds == {"cpu-xs": 12.0}
    (finished,) = [e for e in events if isinstance(e, ev.RungFinished)]
    assert finished.ok and finished.bpb == 1.25
    # What the recorder attached reads back as the same member on resume.
    resumed = member_from_store(repo.get("gpt-1"), repo.results("gpt-1"))
    assert resumed.rung_scores == {"cpu-xs": 0.75} and resumed.rung_seconds == {"cpu-xs": 12.0}


def test_a_failed_verification_keeps_its_reason_and_fails_the_rung(
    recorder: Recorder, repo: _Repo, events: list[ev.Event]
) -> None:
    result = JobResult("verify-gpt-1-cpu-xs", False, error="out of memory", seconds=3.0)
    recorder.verify("gpt-1", "cpu-xs", result)
    assert repo.attached["gpt-1"]["rung:cpu-xs"]["detail"] == {
        "ok": False,
        "reason": "out of memory",
    }
    assert recorder.population.members["gpt-1"].failed_rungs == {"cpu-xs"}
    (finished,) = [e for e in events if isinstance(e, ev.RungFinished)]
    assert not finished.ok and finished.reason == "out of memory"


def test_a_lost_verify_job_fails_its_rung_without_attaching(
    recorder: Recorder, repo: _Repo, events: list[ev.Event]
) -> None:
    recorder.lost("verify", "gpt-1", "cpu-xs", RuntimeError("worker died"))
    assert recorder.population.members["gpt-1"].failed_rungs == {"cpu-xs"}
    assert repo.attached["gpt-1"] == {}
    assert isinstance(events[-1], ev.LoopError) and "worker died" in events[-1].message


def test_the_verify_job_carries_the_run_settings(repo: _Repo) -> None:
    runner = _Runner()
    config = EvolveConfig(seed=3, verify_pairs=20, tasks_min_tokens=0, verify_timeout=60.0)
    loop = EvolutionLoop(repo, _Designer(), runner, config, RUNGS)
    loop.load()
    loop._submit_verify("gpt-1", "cpu-xs")
    (job,) = runner.jobs
    assert job.func == "genesys_tui.evolve.jobs:verify_host" and job.hosted and job.timeout == 60.0
    kwargs = dict(job.kwargs)
    assert kwargs.pop("design_dir").endswith("gpt-1")
    assert kwargs == {
        "rung": "cpu-xs",
        "ladder": "cpu",
        "seed": 3,
        "pairs": 20,
        "tasks_min_tokens": 0,
        "stop_above": None,  # evolve.halving is off
    }


def test_the_loop_shows_the_recorders_population(repo: _Repo) -> None:
    loop = EvolutionLoop(repo, _Designer(), _Runner(), EvolveConfig(), RUNGS)
    loop.load()
    assert loop.population is loop.recorder.population
    assert set(loop.population.members) == {"gpt-1"}
    assert hash_seed(0, 1) == hash_seed(0, 1) != hash_seed(0, 2)


@pytest.mark.parametrize(
    ("ladder", "rungs", "sized_at"),
    [("cpu", ["cpu-xs", "cpu-s8"], "cpu-xs"), ("cpu@cpu-s8", ["cpu-s8", "cpu-s"], "cpu-s8")],
)
def test_the_check_job_sizes_designs_at_the_loops_first_rung(
    repo: _Repo, ladder: str, rungs: list[str], sized_at: str
) -> None:
    runner = _Runner()
    loop = EvolutionLoop(repo, _Designer(), runner, EvolveConfig(ladder=ladder), rungs)
    loop.load()
    loop._submit_check("gpt-1")
    (job,) = runner.jobs
    assert dict(job.kwargs)["rung"] == sized_at


def test_the_check_job_sizes_nothing_on_a_ladder_file(repo: _Repo, tmp_path: Path) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text('[mine]\nrungs = [{name = "r", d_model = 64, n_layers = 2}]\n')
    runner = _Runner()
    loop = EvolutionLoop(repo, _Designer(), runner, EvolveConfig(ladder=str(mine)), ["r"])
    loop.load()
    loop._submit_check("gpt-1")
    (job,) = runner.jobs
    assert dict(job.kwargs)["rung"] is None
