"""A trained model as a graph (verify/graph.py) and the audit that runs it in a cell of its own
(verify/graph_audit.py, verify/audit.py, evolve/jobs.py): every library design exports and the
graph computes its logits exactly; the loader refuses what export never writes; the verdicts
on causality and size are the coordinator's, from figures the design's process never touches."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from genesys_tui import wall
from genesys_tui.design import load_design
from genesys_tui.ladder import Rung, load_ladder, size_design
from genesys_tui.results import RungResult
from genesys_tui.units.lm import build_lm
from genesys_tui.verify import audit
from genesys_tui.verify.audit import AuditFailed, judge_graph, plan_probes
from genesys_tui.verify.graph import GraphError, export_graph, load_graph

LADDER = str(Path(__file__).parents[1] / "evolve" / "tiny_ladder.toml")
LIBRARY = Path(__file__).parents[2] / "library"
RUNG = load_ladder(LADDER).rung("tiny-0")


def model_of(name: str, vocab: int = 256) -> torch.nn.Module:
    design = load_design(LIBRARY / name)
    return build_lm(design, size_design(design, RUNG, vocab), seed=0).eval()


@pytest.mark.parametrize("name", ["gpt", "mamba2", "retnet", "rwkv7", "ttt"])
def test_every_library_design_exports_and_its_graph_gives_its_logits(
    name: str, tmp_path: Path
) -> None:
    model = model_of(name)
    export_graph(model, RUNG.context_length, tmp_path)
    graph = load_graph(tmp_path)
    tokens = torch.randint(0, 256, (1, RUNG.context_length),
                           generator=torch.Generator().manual_seed(1))  # fmt: skip
    with torch.no_grad():
        eager = model(tokens)
    assert torch.allclose(graph(tokens), eager, atol=1e-6, rtol=0)
    assert graph.count("parameter") == model.num_params()
    assert graph.embedding_numel(256) == model.wte.weight.numel()


class Branchy(torch.nn.Module):
    """A forward pass whose Python control flow depends on the data."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(256, 8)
        self.head = torch.nn.Linear(8, 256)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        h = self.emb(idx)
        if h.sum() > 0:
            h = h * 2
        return self.head(h)


def test_a_model_with_data_dependent_python_does_not_export(tmp_path: Path) -> None:
    with pytest.raises(GraphError, match="does not export as a graph"):
        export_graph(Branchy(), 16, tmp_path)


def _edit_first_call(spec: dict, target: str) -> None:
    node = next(n for n in spec["main"]["nodes"] if n["op"] == "call")
    node["target"] = target


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda s: _edit_first_call(s, "builtins.eval"), "not an allowed ATen operation"),
        (lambda s: _edit_first_call(s, "aten.from_file.default"), "not an allowed ATen"),
        (lambda s: _edit_first_call(s, "aten.no_such_op.default"), "ATen does not have"),
        (lambda s: s["main"]["nodes"].insert(0, {"op": "call_module", "name": "m"}), "kind"),
        (lambda s: s["tensors"][0].update(dtype="object"), "malformed"),
        (lambda s: s["tensors"][0].update(nbytes=10**12), "do not match its shape"),
        (lambda s: s.update(format=99), "not of this format"),
    ],
)
def test_the_loader_refuses_what_export_never_writes(edit, words: str, tmp_path: Path) -> None:
    export_graph(model_of("gpt"), RUNG.context_length, tmp_path)
    spec = json.loads((tmp_path / "graph.json").read_text())
    edit(spec)
    (tmp_path / "graph.json").write_text(json.dumps(spec))
    with pytest.raises(GraphError, match=words):
        load_graph(tmp_path)(torch.zeros((1, RUNG.context_length), dtype=torch.long))


def test_probes_cover_the_edges_and_draw_the_rest() -> None:
    probes = plan_probes([0, 1], 130)
    for w in (0, 1):
        positions = {p for pw, p, _ in probes if pw == w}
        assert {1, 129, 63, 64, 65, 127, 128} <= positions
        assert all(0 < p < 130 for p in positions) and 256 not in positions
    assert all(0 <= seed < 2**31 for *_, seed in probes)


def evidence(**overrides: object) -> dict:
    base = {"probes": [[0, 5, 0.0, 10.0], [0, 9, 1e-5, 10.0]], "shape": [256],
            "reference": 1000, "parameters": 1000 + 256 * 64, "embedding": 256 * 64, "state": 10}
    return {**base, **overrides}


RULE_RUNG = Rung(name="r", d_model=64, n_layers=2, tokens=1, context_length=32)


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"probes": [[0, 5, 2e-3, 10.0], [0, 9, 0.0, 10.0]]}, "not causal: .* position 5"),
        ({"probes": [[0, 5, math.nan, 10.0], [0, 9, 0.0, 10.0]]}, "not causal"),
        ({"probes": [[0, 5, 0.0, 10.0]]}, "1 of 2 causality probes"),
        ({"parameters": 1101 + 256 * 64}, "1,101 non-embedding parameters, over"),
        ({"state": 1001 + 256 * 64}, "buffer and constant values"),
        ({"refused": "the graph calls 'os.system'"}, "os.system"),
    ],
)
def test_the_coordinator_judges_the_auditors_figures(overrides: dict, words: str) -> None:
    judge_graph(evidence(), RULE_RUNG, 2)  # within tolerance, on budget: no verdict against it
    with pytest.raises(AuditFailed, match=words):
        judge_graph(evidence(**overrides), RULE_RUNG, 2)


# ---- end to end: the auditor's cell runs the graph ---------------------------------------------


class Peek(torch.nn.Module):
    """The GPT reference, plus a look at the next token: a non-causal graph."""

    def __init__(self, base: torch.nn.Module) -> None:
        super().__init__()
        self.base = base

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        vocab = self.base.wte.weight.shape[0]
        return self.base(idx) + 3.0 * F.one_hot(torch.roll(idx, -1, dims=1), vocab)


class Fat(Peek):
    """Twice the rung's parameters, made after the model was built."""

    def __init__(self, base: torch.nn.Module) -> None:
        super().__init__(base)
        self.extra = torch.nn.Parameter(torch.zeros(base.num_params(non_embedding=True)))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.base(idx) + 0.0 * self.extra.sum()


class Smuggler(Peek):
    """A buffer as large as the rung's parameters (room for held-out text)."""

    def __init__(self, base: torch.nn.Module) -> None:
        super().__init__(base)
        self.register_buffer("stash", torch.zeros(2 * base.num_params()))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.base(idx) + 0.0 * self.stash[0]


def _audit(model: torch.nn.Module, root: Path, export: bool = True,
           forged: dict | None = None) -> RungResult:  # fmt: skip
    """The coordinator's audit of a verify cell that left ``model``'s graph and sent
    ``forged`` scores beside its result."""
    from genesys_tui.evolve.jobs import _audited, _Scoring
    from genesys_tui.verify.token_cache import cache_root, load_tokens

    held_out = load_tokens("validation", RUNG.tokenizer)
    auditor = audit.Auditor.for_rung(len(held_out.tokens), RUNG)
    graph_dir = root / "taken" / "graph"
    sent = RungResult(ok=True, scores=dict(forged or {}),
                      evals={k[5:]: v for k, v in (forged or {}).items() if k.startswith("eval/")})
    value: dict = {"result": sent.to_wire()}
    if export:
        export_graph(model, RUNG.context_length, graph_dir)
    else:
        value["graph_error"] = "the model does not export as a graph (a test)"
    cell = wall.CellSpec(read_only=(str(cache_root()), LADDER))
    scoring = _Scoring(300, 1, 0, 0, 10**9, LADDER, cell)
    return RungResult.from_wire(_audited(value, graph_dir if export else None, auditor,
                                         held_out, RUNG, scoring))  # fmt: skip


def _eager_bpb(model: torch.nn.Module) -> float:
    """The held-out bits per byte of ``model`` as the trainer scores them, in this process."""
    from genesys_tui.verify.metrics import evaluate_split

    return evaluate_split(model, RUNG).bpb


@pytest.mark.slow
def test_the_audit_runs_the_graph_in_its_own_cell_and_names_each_forgery(
    tmp_path: Path, available_wall: None
) -> None:
    from genesys_tui.verify.token_cache import load_tokens

    base = model_of("gpt", len(load_tokens("validation", RUNG.tokenizer).token_bytes))
    honest = _audit(base, tmp_path / "honest")
    assert honest.ok, honest.reason
    assert any(n.startswith("graph scored: ") for n in honest.notes)
    # the auditor's held-out bits per byte are the trainer's own evaluation of the same weights
    assert honest.bpb == pytest.approx(_eager_bpb(base), rel=1e-5)
    cases = [
        (_audit(Peek(base).eval(), tmp_path / "peek"), "not causal"),
        (_audit(Fat(base).eval(), tmp_path / "fat"), "non-embedding parameters, over"),
        (_audit(Smuggler(base).eval(), tmp_path / "smuggler"), "buffer and constant values"),
        (_audit(base, tmp_path / "none", export=False), "does not export"),
    ]
    for result, words in cases:
        assert not result.ok and result.reason.startswith("audit: ")
        assert words in result.reason, result.reason
    # Scores the cell sends are not taken: the coordinator computes the bits per byte and the
    # rung score from the graph and the auditor's accuracies (none at this rung).
    boasted = _audit(base, tmp_path / "boast",
                     forged={"bpb": 0.01, "score": 0.99, "eval/genblimp": 1.0})  # fmt: skip
    assert boasted.ok and boasted.score == pytest.approx(honest.score)
    assert boasted.bpb == pytest.approx(honest.bpb)
    assert boasted.evals == {} and "eval/genblimp" not in boasted.scores


@pytest.mark.slow
def test_an_auditor_cell_that_dies_is_started_again_and_a_second_death_fails_the_result(
    tmp_path: Path, available_wall: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The auditor runs no design code: a cell that ends without an answer (killed from outside,
    # the machine short of memory) is the host's failure, so the audit runs again; a job that
    # raised is the graph's failure and is not retried.
    from genesys_tui.evolve import jobs
    from genesys_tui.verify.token_cache import load_tokens

    base = model_of("gpt", len(load_tokens("validation", RUNG.tokenizer).token_bytes))
    real = wall.run_walled
    calls: list[str] = []

    def dying(deaths: int, status: str = "died"):
        def run(*args, **kwargs):
            calls.append(status)
            if len(calls) <= deaths:
                return wall.Outcome(status, exitcode=-9, stderr="Killed", error="" if
                                    status == "died" else "ImportError: a test")  # fmt: skip
            return real(*args, **kwargs)
        return run

    monkeypatch.setattr(jobs.wall, "run_walled", dying(1))
    again = _audit(base, tmp_path / "again")
    assert again.ok, again.reason
    assert calls == ["died", "died"]  # the first cell died, the second audited

    calls.clear()
    monkeypatch.setattr(jobs.wall, "run_walled", dying(jobs.AUDIT_TRIES))
    dead = _audit(base, tmp_path / "dead")
    assert not dead.ok and len(calls) == jobs.AUDIT_TRIES
    assert f"({jobs.AUDIT_TRIES} tries): died (exit code -9)" in dead.reason
    assert "Killed" in dead.reason

    calls.clear()
    monkeypatch.setattr(jobs.wall, "run_walled", dying(1, status="raise"))
    raised = _audit(base, tmp_path / "raised")
    assert not raised.ok and calls == ["raise"] and "ImportError: a test" in raised.reason


@pytest.mark.slow
def test_task_accuracies_come_from_the_graph_and_match_the_eager_models(
    available_wall: None
) -> None:
    """A walled verification that runs the tasks: the auditor's accuracies equal, to the last
    digit, what the trainer's own process gets from the same weights (same seed: the same
    training, bit for bit), and its bits per byte and score agree to float32 rounding."""
    from genesys_tui.evolve.jobs import verify_host
    from genesys_tui.verify.job import verify_job

    walled = RungResult.from_wire(verify_host(str(LIBRARY / "gpt"), "tiny-0", ladder=LADDER,
                                              tasks_min_tokens=0, timeout=600))  # fmt: skip
    assert walled.ok, walled.reason
    eager = RungResult.from_wire(verify_job(str(LIBRARY / "gpt"), "tiny-0", ladder=LADDER,
                                            tasks_min_tokens=0))  # fmt: skip
    assert walled.evals and walled.evals == eager.evals
    # bits per byte: the graph's float32 logits against the trainer's, summed in another order
    assert walled.bpb == pytest.approx(eager.bpb, rel=1e-5)
    assert walled.score == pytest.approx(eager.score, rel=1e-5)


@pytest.mark.slow
def test_the_audit_benchmark_reports_each_designs_export_and_audit(
    tmp_path: Path, available_wall: None
) -> None:
    from genesys_tui.bench import audit as bench

    out = tmp_path / "audit.json"
    assert bench.main(["--rung", "tiny-0", "--ladder", LADDER, "--designs", "gpt",
                       "--json", str(out)]) == 0  # fmt: skip
    (row,) = json.loads(out.read_text())["rows"]
    assert row["design"] == "gpt" and row["probes"] >= 2 * 4
    assert 0 < row["audit_s"] < row["verify_s"] and 0 < row["share"] < 1


@pytest.mark.slow
def test_the_coordinator_side_of_an_audited_verification_imports_no_torch() -> None:
    """verify_host runs on the runner's thread in the coordinator, which must never import
    torch (ARCHITECTURE: the design's code and torch live in cells)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from genesys_tui import wall\n"
        "from genesys_tui.evolve.jobs import verify_host\n"
        "wall.configure(sandbox=wall.probe() is None)\n"
        f"r = verify_host({str(LIBRARY / 'gpt')!r}, 'tiny-0', ladder={LADDER!r}, timeout=600)\n"
        "assert r['ok'], r\n"
        "assert 'torch' not in sys.modules, 'the coordinator imported torch'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
