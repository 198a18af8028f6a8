"""``genesys export``: a trained design as a Hugging Face model directory.

The directory loads with ``AutoModelForCausalLM.from_pretrained(DIR, trust_remote_code=True)``
and ``AutoTokenizer.from_pretrained(DIR)`` on a machine without Genesys:

    config.json               model_type "genesys", the size, the design tree, an auto_map
    configuration_genesys.py  the config class
    modeling_genesys.py       the model class (PreTrainedModel + GenerationMixin)
    genesys_contract.py       Genesys's unit contract and scaffold (units/contract.py, verbatim)
    genesys_units.py          the design's unit sources, exactly as trained
    units/                    the same sources as files, to read
    model.safetensors         the weights
    tokenizer.json, tokenizer_config.json, ...   a PreTrainedTokenizerFast
    generation_config.json
    README.md                 the model card: unit tree, proposal, results, lineage, data

Nothing of the design runs here: the weights are copied tensor by tensor from the checkpoint
(read with ``weights_only``), and the model is first built where the design's code may run (the
fresh process a user loads it in, or the tests' sandbox). The directory is written beside
``DIR`` under a temporary name and renamed into place, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genesys_tui.design import Design
from genesys_tui.errors import GenesysError

TEMPLATES = Path(__file__).resolve().parent / "templates"
CONTRACT = Path(__file__).resolve().parents[1] / "units" / "contract.py"
SCAFFOLD_PREFIXES = ("wte.", "blocks.", "norm_f.")


class ExportError(GenesysError):
    """An export that cannot be made: a mismatched checkpoint, an occupied directory."""


@dataclass(frozen=True)
class Provenance:
    """What the model card says about where the design came from (all optional)."""

    source: str = ""  # "library design gpt", "design gpt-602435-20 of namespace fid"
    title: str = ""
    proposal: str = ""
    parents: tuple[str, ...] = ()
    commit: str = ""
    designer: str = ""
    results: dict[str, dict[str, Any]] = field(default_factory=dict)  # rung -> metrics
    fitness: float | None = None


def export(
    checkpoint: str | Path,
    out: str | Path,
    *,
    design: Design | None = None,
    provenance: Provenance | None = None,
    force: bool = False,
) -> Path:
    """Write the Hugging Face directory of ``checkpoint`` to ``out``; return ``out``.

    ``design``, when given, must be the design the checkpoint was trained from (ExportError
    otherwise). ``out`` must not exist or be empty, unless ``force`` replaces it.
    """
    from genesys_tui.verify.checkpoint import meta_of, read_checkpoint
    from genesys_tui.verify.tokenizer import load_tokenizer

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ExportError(f"{out} exists and is not empty; pass --force to replace it")
    payload = read_checkpoint(checkpoint)
    meta = meta_of(payload, checkpoint)
    if design is not None and not same_design(design, meta.design):
        named = provenance.source if provenance and provenance.source else repr(design.name)
        raise ExportError(
            f"checkpoint {checkpoint} was trained from design {meta.design.name!r} in a version "
            f"whose unit tree or sources differ from {named}'s: name the design it was trained "
            "from (a design id with --namespace, or its directory)"
        )
    tokenizer = load_tokenizer(meta.tokenizer)
    state = payload["model"]
    _check_weights(state, meta.config.vocab_size, meta.config.d_model, tokenizer.vocab_size)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        _write(tmp, payload, meta, tokenizer, provenance or Provenance())
        _replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def same_design(a: Design, b: Design) -> bool:
    """The same unit tree and the same unit sources (names and descriptions aside)."""

    def key(d: Design) -> tuple[Any, Any, Any]:
        tree = d.to_dict()
        return tree["root"], tree["units"], sorted(d.sources.items())

    return key(a) == key(b)


def _check_weights(state: Mapping[str, Any], vocab: int, d_model: int, tok_vocab: int) -> None:
    if tok_vocab != vocab:
        raise ExportError(
            f"the checkpoint's model has a vocabulary of {vocab} but its tokenizer has {tok_vocab}"
        )
    wte = state.get("wte.weight")
    if wte is None or tuple(wte.shape) != (vocab, d_model):
        got = "none" if wte is None else tuple(wte.shape)
        raise ExportError(
            f"the checkpoint's embedding is {got}, not ({vocab}, {d_model}) as its config says"
        )
    stray = sorted(k for k in state if not k.startswith(SCAFFOLD_PREFIXES))
    if stray:
        raise ExportError(f"the checkpoint holds weights outside the scaffold: {stray[:3]}")


def _write(
    tmp: Path, payload: Mapping[str, Any], meta: Any, tokenizer: Any, prov: Provenance
) -> None:
    from safetensors.torch import save_file
    from transformers import GenerationConfig

    design, config, state = meta.design, meta.config, payload["model"]
    for name in ("configuration_genesys.py", "modeling_genesys.py"):
        shutil.copyfile(TEMPLATES / name, tmp / name)
    shutil.copyfile(CONTRACT, tmp / "genesys_contract.py")
    (tmp / "genesys_units.py").write_text(units_module(design.sources), encoding="utf-8")
    for file, text in design.sources.items():
        target = tmp / "units" / Path(file).name
        target.parent.mkdir(exist_ok=True)
        target.write_text(text, encoding="utf-8")

    eot = tokenizer.eot_id
    cfg = {
        "model_type": "genesys",
        "architectures": ["GenesysForCausalLM"],
        "auto_map": {
            "AutoConfig": "configuration_genesys.GenesysConfig",
            "AutoModelForCausalLM": "modeling_genesys.GenesysForCausalLM",
        },
        "d_model": config.d_model,
        "n_layers": config.n_layers,
        "vocab_size": config.vocab_size,
        "context_length": config.context_length,
        "design": design.to_dict(),
        "bos_token_id": eot,
        "eos_token_id": eot,
        "tie_word_embeddings": True,
        "torch_dtype": "float32",
    }
    (tmp / "config.json").write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")
    tensors = {
        f"lm.{k}": (v.float() if v.is_floating_point() else v).detach().contiguous()
        for k, v in state.items()
    }
    save_file(tensors, str(tmp / "model.safetensors"), metadata={"format": "pt"})
    tokenizer.as_hf().save_pretrained(str(tmp))
    # Name the class outright, so AutoTokenizer needs neither config.json nor remote code.
    tok_config = json.loads((tmp / "tokenizer_config.json").read_text(encoding="utf-8"))
    tok_config["tokenizer_class"] = "PreTrainedTokenizerFast"
    (tmp / "tokenizer_config.json").write_text(json.dumps(tok_config, indent=2) + "\n")
    GenerationConfig(
        bos_token_id=eot, eos_token_id=eot, pad_token_id=eot, use_cache=True,
    ).save_pretrained(str(tmp))  # fmt: skip
    (tmp / "README.md").write_text(model_card(meta, prov), encoding="utf-8")


def units_module(sources: Mapping[str, str]) -> str:
    """``genesys_units.py``: the unit sources as one dict of string literals."""
    lines = [
        '"""The design\'s unit sources, exactly as Genesys trained them (also under units/)."""',
        "",
        "UNIT_SOURCES = {",
    ]
    lines += [f"    {file!r}: {text!r}," for file, text in sorted(sources.items())]
    return "\n".join([*lines, "}", ""])


def _replace(tmp: Path, out: Path) -> None:
    """Move ``tmp`` to ``out``; an existing ``out`` is moved aside first and removed last."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{tmp.name}")
        out.rename(old)
    try:
        tmp.rename(out)
    except BaseException:
        if old is not None:
            old.rename(out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def model_card(meta: Any, prov: Provenance) -> str:
    """The README.md of the exported directory."""
    from genesys_tui.describe import format_tree
    from genesys_tui.verify.corpus import embedded_manifest

    design, config, rung = meta.design, meta.config, meta.rung
    lines = [
        "---",
        "library_name: transformers",
        "pipeline_tag: text-generation",
        "tags: [genesys, custom_code]",
        "---",
        "",
        f"# {design.name}",
        "",
        design.description or prov.title,
        "",
        "A language-model design found or checked by Genesys,"
        " exported with `genesys export`. Load it with",
        "",
        "```python",
        "from transformers import AutoModelForCausalLM, AutoTokenizer",
        "model = AutoModelForCausalLM.from_pretrained(DIR, trust_remote_code=True)",
        "tokenizer = AutoTokenizer.from_pretrained(DIR, trust_remote_code=True)",
        "```",
        "",
        "Loading runs the design's unit code (`genesys_units.py`, also under `units/`): read it "
        "first, as with any `trust_remote_code` model. Generation keeps each unit's state "
        "between tokens (a key/value cache for attention, the recurrent state of recurrent "
        "mixers); pad on the right, never on the left.",
        "",
        "## Unit tree",
        "",
        "```",
        format_tree(design),
        "```",
        "",
        "## Size and training",
        "",
        f"- d_model {config.d_model}, {config.n_layers} blocks, vocabulary {config.vocab_size} "
        f"({meta.tokenizer}), context {config.context_length} tokens",
        f"- trained at rung `{rung.name}`: {meta.tokens:,} tokens in {meta.step:,} steps, "
        f"seed {meta.seed}",
    ]
    if prov.proposal.strip():
        lines += ["", "## Proposal", "", prov.proposal.strip()]
    if prov.results or prov.fitness is not None:
        lines += ["", "## Results", ""]
        if prov.fitness is not None:
            lines.append(f"Fitness: {prov.fitness:.4f}")
            lines.append("")
        lines += ["| rung | metric | value |", "|---|---|---|"]
        for rung_name, metrics in prov.results.items():
            for metric, value in metrics.items():
                shown = f"{value:.4f}" if isinstance(value, float) else str(value)
                lines.append(f"| {rung_name} | {metric} | {shown} |")
    lines += ["", "## Lineage", ""]
    lines.append(f"- {prov.source or 'design ' + repr(design.name)}")
    if prov.parents:
        lines.append(f"- parents: {', '.join(prov.parents)}")
    if prov.commit:
        lines.append(f"- designs-repository commit: {prov.commit}")
    if prov.designer:
        lines.append(f"- designer: {prov.designer}")
    lines += [
        "",
        "## Training data",
        "",
        "Genesys trains on its embedded English corpus unless a run names another source (the "
        "checkpoint does not record which). The embedded corpus is built from:",
        "",
    ]
    for name, pkg in embedded_manifest().get("packages", {}).items():
        lines.append(f"- {name}: {pkg.get('used', '')} Licence: {pkg.get('license', '')}")
    return "\n".join(lines) + "\n"
