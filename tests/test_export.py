"""``genesys export``: every library design as a Hugging Face model directory that loads, in a
process where ``genesys_tui`` cannot be imported, to the same logits, tokenizer and lm-eval
log-likelihoods as the checkpoint gives through Genesys; bad input changes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from genesys_tui.cli import main
from genesys_tui.config import ModelConfig
from genesys_tui.design import load_design
from genesys_tui.ladder import load_ladder
from genesys_tui.resources import library_dir
from genesys_tui.units.lm import build_lm
from genesys_tui.verify.checkpoint import load_checkpoint, save_checkpoint

DESIGNS = ("gpt", "mamba2", "retnet", "rwkv7", "ttt")
SIZE = ModelConfig(d_model=64, n_layers=2, vocab_size=257, context_length=64)

# Run in a fresh interpreter: genesys_tui is made unimportable before anything else happens.
WITHOUT_GENESYS = """
import sys
class _NoGenesys:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "genesys_tui":
            raise ImportError("genesys_tui is not importable in this process")
sys.meta_path.insert(0, _NoGenesys())
"""

LOAD = WITHOUT_GENESYS + """
import json, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
dirs, ids_path, out_path = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
ids = torch.load(ids_path)
out = {}
for d in dirs:
    model = AutoModelForCausalLM.from_pretrained(d, trust_remote_code=True).eval()
    tok = AutoTokenizer.from_pretrained(d, trust_remote_code=True)
    with torch.no_grad():
        res = model(ids, labels=ids)
        lengths = []  # of the token runs the model sees while generating with its cache
        forward = model.lm.forward
        def counted(idx, cache=None):
            lengths.append(idx.shape[1])
            return forward(idx, cache)
        model.lm.forward = counted
        gen = model.generate(ids[:1, :6], max_new_tokens=5, do_sample=False, use_cache=True)
        model.lm.forward = forward
        plain = model.generate(ids[:1, :6], max_new_tokens=5, do_sample=False, use_cache=False)
    text = "Colourless green ideas sleep furiously, \u00e9t\u00e9 \u2014 42."
    out[d] = {"logits": res.logits, "loss": res.loss, "generated": gen, "plain": plain,
              "lengths": lengths,
              "roundtrip": tok.decode(tok(text)["input_ids"]) == text,
              "ids": tok(text)["input_ids"]}
torch.save(out, out_path)
"""

LM_EVAL = WITHOUT_GENESYS + """
import json
from lm_eval.api.instance import Instance
from lm_eval.models.huggingface import HFLM
d, pairs, out_path = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
lm = HFLM(pretrained=d, trust_remote_code=True, batch_size=4, device="cpu")
reqs = [Instance("loglikelihood", {}, (c, x), i) for i, (c, x) in enumerate(pairs)]
json.dump([list(r) for r in lm.loglikelihood(reqs, disable_tqdm=True)], open(out_path, "w"))
"""

PAIRS = [
    ("The cat", " sat on the mat."),
    ("", "Every dog barks."),
    ("Who did the teachers", " praise?"),
    ("A long context that runs past the model's window of sixty-four tokens, " * 2, " end."),
]


LM_EVAL_TASK = WITHOUT_GENESYS + """
import json
from lm_eval.evaluator import evaluate
from lm_eval.models.huggingface import HFLM
from lm_eval.tasks import TaskManager
d, tasks_dir, out_path = sys.argv[1], sys.argv[2], sys.argv[3]
loaded = TaskManager(include_path=tasks_dir, include_defaults=False).load(["genblimp_a_an"])
for task in loaded["tasks"].values():
    task.set_config(key="num_fewshot", value=0)
lm = HFLM(pretrained=d, trust_remote_code=True, batch_size=8, device="cpu")
out = evaluate(lm=lm, task_dict=loaded, limit=24, log_samples=True)
rows = {s["doc_id"]: [r[0][0] for r in s["resps"]] for s in out["samples"]["genblimp_a_an"]}
json.dump(rows, open(out_path, "w"))
"""


def _fresh(script: str, *args: str, tmp: Path) -> None:
    env_hf = {"HF_HOME": str(tmp / "hf_home"), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    import os

    env = {**os.environ, **env_hf}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, cwd=tmp, env=env
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An untrained tiny checkpoint of every library design (random weights tell apart any
    mismatch better than trained ones would)."""
    root = tmp_path_factory.mktemp("ckpt")
    rung = load_ladder("cpu").rungs[0]
    out = {}
    for i, name in enumerate(DESIGNS):
        design = load_design(library_dir() / name)
        model = build_lm(design, SIZE, seed=i)
        out[name] = save_checkpoint(
            root / f"{name}.pt", model=model, design=design, config=SIZE, tokenizer="bytes",
            rung=rung, step=3, tokens=1000, seed=i,
        )  # fmt: skip
    return out


def _imports_genesys(source: str) -> bool:
    import ast

    for node in ast.walk(ast.parse(source)):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        names += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        if any(n.split(".")[0] == "genesys_tui" for n in names):
            return True
    return False


def _export(name: str, ckpt: Path, out: Path, *extra: str) -> int:
    return main(["export", name, "--checkpoint", str(ckpt), "--out", str(out), *extra])


@pytest.mark.slow
def test_every_library_design_loads_without_genesys_to_the_same_logits(
    checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    dirs = {}
    for name, ckpt in checkpoints.items():
        dirs[name] = tmp_path / f"{name}-hf"
        assert _export(name, ckpt, dirs[name]) == 0
    ids = torch.randint(0, SIZE.vocab_size, (2, 50), generator=torch.Generator().manual_seed(0))
    torch.save(ids, tmp_path / "ids.pt")
    _fresh(LOAD, json.dumps([str(d) for d in dirs.values()]), "ids.pt", "out.pt", tmp=tmp_path)
    got = torch.load(tmp_path / "out.pt")
    for name, ckpt in checkpoints.items():
        model, _ = load_checkpoint(ckpt)
        with torch.no_grad():
            want = model(ids)
        res = got[str(dirs[name])]
        torch.testing.assert_close(res["logits"], want, atol=1e-5, rtol=0, msg=name)
        loss = torch.nn.functional.cross_entropy(want[:, :-1].flatten(0, 1), ids[:, 1:].flatten())
        assert abs(float(res["loss"]) - float(loss)) < 1e-5, name
        assert res["roundtrip"], name
        text = "Colourless green ideas sleep furiously, \u00e9t\u00e9 \u2014 42."
        assert res["ids"] == list(text.encode("utf-8")), name  # bytes tokenizer: id = byte
        # Greedy generation through GenerationMixin continues as the model's argmax does.
        seq = ids[:1, :6]
        for _ in range(5):
            with torch.no_grad():
                nxt = model(seq)[:, -1].argmax(-1, keepdim=True)
            seq = torch.cat([seq, nxt], dim=1)
        assert torch.equal(res["generated"], seq), name
        # ... and with the cache it runs the prompt once, then one token at a time.
        assert torch.equal(res["plain"], seq) and res["lengths"] == [6, 1, 1, 1, 1], name


def test_the_directory_holds_what_the_hub_expects(
    checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "gpt-hf"
    assert _export("gpt", checkpoints["gpt"], out) == 0
    names = {p.name for p in out.iterdir()}
    assert {
        "config.json", "configuration_genesys.py", "modeling_genesys.py", "genesys_contract.py",
        "genesys_units.py", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
        "generation_config.json", "README.md", "units",
    } <= names  # fmt: skip
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "genesys"
    assert config["auto_map"]["AutoModelForCausalLM"] == "modeling_genesys.GenesysForCausalLM"
    assert config["design"] == load_design(library_dir() / "gpt").to_dict()
    assert (config["d_model"], config["n_layers"], config["vocab_size"]) == (64, 2, 257)
    for path in out.glob("*.py"):  # the loading test proves it; this names the file at fault
        assert not _imports_genesys(path.read_text()), path
    card = (out / "README.md").read_text()
    assert "CausalSelfAttention" in card and "library design gpt" in card
    assert "Brown" in card and "Licence" in card  # the embedded corpus and its licences
    assert not list(tmp_path.glob(".gpt-hf*")), "a temporary directory was left behind"


@pytest.mark.slow
def test_lm_eval_hf_model_gives_genesys_eval_log_likelihoods(
    checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    from genesys_tui.verify.evals.lm_model import GenesysLM

    for name in ("gpt", "mamba2"):
        out = tmp_path / f"{name}-hf"
        assert _export(name, checkpoints[name], out) == 0
        _fresh(LM_EVAL, str(out), json.dumps(PAIRS), f"{name}.json", tmp=tmp_path)
        hf = json.loads((tmp_path / f"{name}.json").read_text())
        from lm_eval.api.instance import Instance

        lm = GenesysLM(checkpoint=checkpoints[name], device="cpu", batch_size=4)
        reqs = [Instance("loglikelihood", {}, pair, i) for i, pair in enumerate(PAIRS)]
        ours = lm.loglikelihood(reqs, disable_tqdm=True)
        for (a, greedy_a), (b, greedy_b) in zip(hf, ours, strict=True):
            assert abs(a - b) < 1e-4 and greedy_a == greedy_b, (name, a, b)


def test_a_design_from_a_designs_repository_carries_its_lineage(
    checkpoints: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from genesys_tui.results import RungResult
    from genesys_tui.store import DesignsRepo

    monkeypatch.setenv("GENESYS_DESIGNS_DIR", str(tmp_path / "designs"))
    with DesignsRepo.create(tmp_path / "designs" / "run") as repo:
        gpt = next(r for r in repo.records() if r.name == "gpt")
        done = RungResult(ok=True, scores={"score": 0.61, "bpb": 2.5}, seconds=9.0)
        repo.attach(gpt.id, "rung:cpu-xs", done.to_note())
    out = tmp_path / "out"
    assert _export(gpt.id, checkpoints["gpt"], out, "--namespace", "run") == 0
    card = (out / "README.md").read_text()
    assert f"design {gpt.id} of namespace run" in card and gpt.commit in card
    assert "| cpu-xs | score | 0.6100 |" in card


def test_bad_input_is_one_line_exit_2_and_nothing_written(
    checkpoints: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    assert _export("gpt", checkpoints["gpt"], busy) == 2
    assert "not empty" in capsys.readouterr().err
    assert [p.name for p in busy.iterdir()] == ["keep.txt"]

    wrong = tmp_path / "wrong"
    assert _export("mamba2", checkpoints["gpt"], wrong) == 2  # not the design it trained
    assert "trained from design 'gpt' in a version" in capsys.readouterr().err
    assert not wrong.exists()

    assert _export("gpt", tmp_path / "nope.pt", wrong) == 2
    assert "does not exist" in capsys.readouterr().err
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes(b"not a checkpoint")
    assert _export("gpt", damaged, wrong) == 2
    assert "cannot be read" in capsys.readouterr().err

    payload = torch.load(checkpoints["gpt"], weights_only=True)
    payload["model"]["wte.weight"] = payload["model"]["wte.weight"][:100]
    torch.save(payload, tmp_path / "short.pt")
    assert _export("gpt", tmp_path / "short.pt", wrong) == 2
    assert "embedding is (100, 64)" in capsys.readouterr().err
    assert not wrong.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temporaries left"

    # --force replaces a directory, and the old contents go.
    assert _export("gpt", checkpoints["gpt"], busy, "--force") == 0
    assert not (busy / "keep.txt").exists() and (busy / "model.safetensors").is_file()


def test_push_to_hub_offline_writes_the_directory_and_says_so(
    checkpoints: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = tmp_path / "hf"
    assert _export("gpt", checkpoints["gpt"], out, "--push-to-hub", "someone/gpt-tiny") == 2
    err = capsys.readouterr().err
    assert "not uploaded" in err and "huggingface-cli upload someone/gpt-tiny" in err
    assert (out / "model.safetensors").is_file()


def test_an_unknown_design_id_is_one_line_exit_2(
    checkpoints: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    from genesys_tui.store import DesignsRepo

    monkeypatch.setenv("GENESYS_DESIGNS_DIR", str(tmp_path / "designs"))
    DesignsRepo.create(tmp_path / "designs" / "run").close()
    out = tmp_path / "out"
    assert _export("gpt-999", checkpoints["gpt"], out, "--namespace", "run") == 2
    assert "no design 'gpt-999'" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.slow
def test_lm_eval_on_a_local_task_folder_gives_genesys_eval_s_log_likelihoods(
    checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    """The issue's check, end to end: `genesys eval --tasks-dir` writes a task folder; lm-eval's
    own evaluator runs it once with its `hf` model on the export (in a process without Genesys)
    and once with Genesys's model on the checkpoint; every document's log-likelihoods agree."""
    from lm_eval.evaluator import evaluate
    from lm_eval.tasks import TaskManager

    from genesys_tui.verify.evals.lm_model import GenesysLM

    ckpt, out, tasks = checkpoints["rwkv7"], tmp_path / "hf", tmp_path / "tasks"
    assert main(["eval", str(ckpt), "--tasks", "genblimp_a_an", "--pairs", "20", "--limit", "4",
                 "--tasks-dir", str(tasks), "--threads", "1"]) == 0  # fmt: skip
    assert _export("rwkv7", ckpt, out) == 0
    _fresh(LM_EVAL_TASK, str(out), str(tasks), "hf.json", tmp=tmp_path)
    hf = {int(k): v for k, v in json.loads((tmp_path / "hf.json").read_text()).items()}
    loaded = TaskManager(include_path=str(tasks), include_defaults=False).load(["genblimp_a_an"])
    for task in loaded["tasks"].values():
        task.set_config(key="num_fewshot", value=0)
    lm = GenesysLM(checkpoint=ckpt, device="cpu", batch_size=8)
    ours = evaluate(lm=lm, task_dict=loaded, limit=24, log_samples=True)
    rows = {s["doc_id"]: [r[0][0] for r in s["resps"]] for s in ours["samples"]["genblimp_a_an"]}
    assert sorted(rows) == sorted(hf) and len(rows) == 20  # --pairs 20
    for doc, values in rows.items():
        assert values == pytest.approx(hf[doc], abs=1e-4), doc
