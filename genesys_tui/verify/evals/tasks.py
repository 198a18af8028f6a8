"""Task sources as lm-eval tasks: YAML configs and jsonl data written into a directory that
lm-eval reads with ``--include_path`` (or a ``TaskManager(include_path=...)``).

Task names a user may ask for:

- ``genblimp`` (every generated phenomenon) or ``genblimp_<phenomenon>``: our minimal pairs.
- ``blimp_local`` (every paradigm found) or ``blimp_local_<paradigm>``: real BLiMP read from a
  local directory of its jsonl files (``blimp_dir``). The files are read where they lie and
  rewritten into the task directory for this run only; nothing is copied into the project.
- ``heldout_lastword``: the last word of a sentence from the held-out split, among four
  (``verify.evals.heldout``); chance is 1/4.
- any lm-eval task, such as the paper's ``PAPER_TASKS``: these need the Hugging Face Hub (or
  the datasets already in its cache).

Minimal pairs are scored as two-way multiple choice over whole sentences, with the right
sentence's position drawn by a seeded coin per pair: a model whose scores tie (one that outputs
the same distribution everywhere) then earns half, not all, of the pairs. (lm-eval's own BLiMP
tasks always put the good sentence first, so ties count as right there.)
"""

from __future__ import annotations

import json
import os
import random
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genesys_tui.errors import VerifyError
from genesys_tui.verify.evals.blimp_gen import DEFAULT_PAIRS, PHENOMENA, generate
from genesys_tui.verify.evals.heldout import (
    LASTWORD,
    LASTWORD_CHOICES,
    heldout_texts,
    mine_lastword,
)

#: Chance accuracy of our tasks that are not two-way choices (fitness reads it).
CHANCE = {LASTWORD: 1 / LASTWORD_CHOICES}
#: Chance accuracy of the probes' results, ``probe_<name>`` (``probes.PROBES`` defines the
#: same; kept here, torch-free, for the fitness terms the leaderboard shows).
PROBE_CHANCE = {"probe_mqar": 1 / 26, "probe_selective_copy": 1 / 16**4}

GENBLIMP = "genblimp"
LOCAL_BLIMP = "blimp_local"
#: The seed paper's lm-eval tasks (Cheng et al. 2025); all need the Hugging Face Hub.
PAPER_TASKS = (
    "blimp", "wnli", "rte", "winogrande", "cola", "sst2", "wsc273", "inverse_scaling_mc", "mrpc",
)  # fmt: skip
_ACC = [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}]


@dataclass(frozen=True)
class TaskSet:
    """What to hand lm-eval: task names, the directory holding our task files, and whether the
    built-in (hub) tasks are needed (indexing them costs lm-eval about 20 s)."""

    names: tuple[str, ...]
    include_path: Path
    groups: Mapping[str, tuple[str, ...]]  # our group name -> its task names
    hub: tuple[str, ...] = ()  # names that are lm-eval's own tasks


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    # lm-eval reads YAML; JSON is a subset of YAML and needs no YAML writer
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def _write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")


def choice_task(name: str, data: Path) -> dict[str, Any]:
    """An lm-eval task config: a choice of whole sentences, docs ``{context: "", choices,
    label}`` (fields named rather than Jinja templates: rendering one per document costs more
    than scoring it)."""
    return {
        "task": name,
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(data.resolve())}},
        "test_split": "test",
        "output_type": "multiple_choice",
        "doc_to_text": "context",
        "doc_to_choice": "choices",
        "doc_to_target": "label",
        "num_fewshot": 0,
        "metric_list": _ACC,
        "metadata": {"version": 1.0},
    }


def greedy_task(name: str, data: Path) -> dict[str, Any]:
    """An lm-eval task config: docs ``{context, target}``; right when greedy decoding gives
    exactly ``target`` after ``context`` (lm-eval's loglikelihood ``acc``)."""
    return {
        "task": name,
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(data.resolve())}},
        "test_split": "test",
        "output_type": "loglikelihood",
        "doc_to_text": "context",
        "doc_to_target": "target",
        "target_delimiter": "",
        "num_fewshot": 0,
        "metric_list": _ACC,
        "metadata": {"version": 1.0},
    }


def write_task(directory: Path, config: Mapping[str, Any], rows: Iterable[Mapping[str, Any]]):
    """Write ``<task>.jsonl`` and ``<task>.yaml`` into ``directory``; return the YAML's path."""
    directory.mkdir(parents=True, exist_ok=True)
    name = str(config["task"])
    _write_jsonl(directory / f"{name}.jsonl", rows)
    _write_json(directory / f"{name}.yaml", config)
    return directory / f"{name}.yaml"


def pair_rows(pairs: Iterable[tuple[str, str]], seed: int, tag: str) -> list[dict[str, Any]]:
    """(good, bad) pairs as choice docs with the good sentence's position drawn per pair."""
    rng = random.Random(f"genesys-order:{seed}:{tag}")
    rows = []
    for good, bad in pairs:
        label = rng.randrange(2)
        choices = [good, bad] if label == 0 else [bad, good]
        rows.append({"context": "", "choices": choices, "label": label, "sentence_good": good})
    return rows


# ---------------------------------------------------------------------------------- sources


def write_genblimp(
    directory: Path, phenomena: Sequence[str], pairs: int = DEFAULT_PAIRS, seed: int = 0
) -> list[str]:
    """Generated minimal pairs, one task ``genblimp_<phenomenon>`` each; returns the names."""
    names = []
    for ph in phenomena:
        name = f"{GENBLIMP}_{ph}"
        gen = generate(ph, pairs, seed)
        write_task(
            directory, choice_task(name, directory / f"{name}.jsonl"),
            pair_rows(((p.good, p.bad) for p in gen), seed, name),
        )  # fmt: skip
        names.append(name)
    return names


def write_lastword(directory: Path, n: int = DEFAULT_PAIRS, seed: int = 0) -> str:
    """The ``heldout_lastword`` task: ``n`` items mined from the embedded corpus's test split."""
    items = mine_lastword(heldout_texts(), n, seed)
    rows = [
        {"context": it.context, "choices": list(it.choices), "label": it.label, "answer": it.answer}
        for it in items
    ]
    write_task(directory, choice_task(LASTWORD, directory / f"{LASTWORD}.jsonl"), rows)
    return LASTWORD


def local_blimp_paradigms(blimp_dir: str | Path) -> list[str]:
    """The paradigms (file stems) in a local BLiMP directory; VerifyError when there are none."""
    root = Path(blimp_dir).expanduser()
    found = sorted(p.stem for p in root.glob("*.jsonl")) if root.is_dir() else []
    if not found:
        raise VerifyError(
            f"no BLiMP jsonl files in {root}: give --blimp-dir the directory that holds "
            "BLiMP's 67 <paradigm>.jsonl files (fields sentence_good, sentence_bad)"
        )
    return found


def write_local_blimp(
    directory: Path, blimp_dir: str | Path, paradigms: Sequence[str], seed: int = 0
) -> list[str]:
    """Real BLiMP paradigms from ``blimp_dir``, one task ``blimp_local_<paradigm>`` each."""
    root = Path(blimp_dir).expanduser()
    names = []
    for uid in paradigms:
        src = root / f"{uid}.jsonl"
        if not src.is_file():
            raise VerifyError(f"BLiMP paradigm {uid!r} is not in {root} (no {src.name})")
        with src.open(encoding="utf-8") as fh:
            docs = [json.loads(line) for line in fh if line.strip()]
        name = f"{LOCAL_BLIMP}_{uid}"
        rows = pair_rows(((d["sentence_good"], d["sentence_bad"]) for d in docs), seed, name)
        write_task(directory, choice_task(name, directory / f"{name}.jsonl"), rows)
        names.append(name)
    return names


def hub_status() -> str:
    """ "" when the Hugging Face Hub looks reachable, else why not (offline flags, no route)."""
    flags = [v for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE") if os.environ.get(v, "0") != "0"]
    if flags:
        return f"{' and '.join(flags)} set"
    try:
        socket.create_connection(("huggingface.co", 443), timeout=3).close()
    except OSError as exc:
        return f"huggingface.co cannot be reached ({exc})"
    return ""


def hub_cache_empty() -> bool:
    """Whether the Hugging Face datasets cache holds nothing (so offline, no hub task can load)."""
    home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))
    cache = Path(os.environ.get("HF_DATASETS_CACHE", home / "datasets"))
    return not cache.is_dir() or not any(cache.iterdir())


def hub_message(tasks: Sequence[str], why: str) -> str:
    return (
        f"task(s) {', '.join(tasks)} load their data from the Hugging Face Hub, and the hub "
        f"is not available here ({why}) nor the data in its cache. Offline, use "
        f"'{GENBLIMP}' (our generated minimal pairs), '{LASTWORD}' (held-out text), "
        f"'{LOCAL_BLIMP}' with --blimp-dir DIR (real BLiMP from its jsonl files) or the probes "
        "'mqar' and 'selective_copy'."
    )


def _genblimp(task: str, out: Path, blimp_dir: str | Path | None, pairs: int, seed: int
              ) -> list[str]:  # fmt: skip
    wanted = list(PHENOMENA) if task == GENBLIMP else [task[len(GENBLIMP) + 1 :]]
    return write_genblimp(out, wanted, pairs, seed)


def _lastword(task: str, out: Path, blimp_dir: str | Path | None, pairs: int, seed: int
              ) -> list[str]:  # fmt: skip
    return [write_lastword(out, pairs, seed)]


def _local_blimp(task: str, out: Path, blimp_dir: str | Path | None, pairs: int, seed: int
                 ) -> list[str]:  # fmt: skip
    if blimp_dir is None:
        raise VerifyError(f"task {task!r} reads real BLiMP from local files: give --blimp-dir DIR")
    wanted = local_blimp_paradigms(blimp_dir) if task == LOCAL_BLIMP else [
        task[len(LOCAL_BLIMP) + 1 :]
    ]  # fmt: skip
    return write_local_blimp(out, blimp_dir, wanted, seed)


#: (task name, out dir, BLiMP dir, pairs, seed) -> the task names written
TaskWriter = Callable[[str, Path, "str | Path | None", int, int], list[str]]
#: Our tasks by name; a name followed by ``_<part>`` picks one part of a group. A new task is a
#: writer and one entry here; names not found here go to lm-eval as hub tasks.
TASKS: dict[str, TaskWriter] = {
    GENBLIMP: _genblimp,
    LASTWORD: _lastword,
    LOCAL_BLIMP: _local_blimp,
}
#: The entries above that stand for a group of tasks when named whole.
GROUPS = (GENBLIMP, LOCAL_BLIMP)


def task_writer(task: str) -> TaskWriter | None:
    """The writer of one of our tasks (a whole group or a part), None for a hub task."""
    for name, writer in TASKS.items():
        if task == name or (name in GROUPS and task.startswith(name + "_")):
            return writer
    return None


def prepare(
    tasks: Sequence[str],
    directory: str | Path,
    *,
    blimp_dir: str | Path | None = None,
    pairs: int = DEFAULT_PAIRS,
    seed: int = 0,
) -> TaskSet:
    """Write the task files ``tasks`` need into ``directory`` and say what to run.

    ``tasks`` may hold group names (``genblimp``, ``blimp_local``), single tasks of ours, and
    lm-eval task names (hub tasks). VerifyError for ``blimp_local`` without ``blimp_dir``.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    groups: dict[str, tuple[str, ...]] = {}
    hub: list[str] = []
    for task in tasks:
        writer = task_writer(task)
        if writer is None:
            hub.append(task)
            names.append(task)
            continue
        made = writer(task, out, blimp_dir, pairs, seed)
        names.extend(made)
        if task in GROUPS:
            groups[task] = tuple(made)
    return TaskSet(tuple(dict.fromkeys(names)), out, groups, tuple(hub))
