"""``genesys export DESIGN --checkpoint CKPT --out DIR``: a Hugging Face model directory."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from genesys_tui.cli._repo_args import add_repo_options, open_repo

if TYPE_CHECKING:
    from genesys_tui.design import Design
    from genesys_tui.export import Provenance


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="write a trained design as a Hugging Face model directory (trust_remote_code)",
        description="Write DIR: config.json, a self-contained modeling file, model.safetensors, "
        "the tokenizer, generation_config.json and a model card. Loads with "
        "AutoModelForCausalLM.from_pretrained(DIR, trust_remote_code=True) without Genesys.",
    )
    p.add_argument(
        "design",
        help="the design the checkpoint was trained from: a library design, a design directory, "
        "or a design of a designs repository (id, number or commit prefix)",
    )
    p.add_argument("--checkpoint", required=True, type=Path, help="a Genesys checkpoint.pt")
    p.add_argument("--out", required=True, type=Path, help="the directory to write")
    p.add_argument("--force", action="store_true", help="replace DIR when it is not empty")
    p.add_argument(
        "--push-to-hub", metavar="REPO_ID", help="then upload DIR to this Hugging Face repo"
    )
    add_repo_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from genesys_tui.export import ExportError, export

    design, provenance = _resolve(args)
    out = export(args.checkpoint, args.out, design=design, provenance=provenance, force=args.force)
    print(f"wrote {out}")
    if args.push_to_hub:
        url = _push(out, args.push_to_hub)
        if url is None:
            raise ExportError(
                f"not uploaded: the Hugging Face Hub cannot be reached from here (offline, or no "
                f"token); {out} is written, push it later with "
                f"`huggingface-cli upload {args.push_to_hub} {out}`"
            )
        print(f"uploaded to {url}")
    return 0


def _resolve(args: argparse.Namespace) -> tuple[Design, Provenance]:
    """The design named on the command line, and what the model card says about it."""
    from genesys_tui.design import load_design
    from genesys_tui.export import Provenance
    from genesys_tui.resources import library_dir

    local = Path(args.design)
    if not local.is_dir() and (library_dir() / args.design).is_dir():
        local = library_dir() / args.design
    if local.is_dir() and not (args.namespace or args.repo):
        proposal = local / "proposal.md"
        source = "library design" if local.parent == library_dir() else "design directory"
        return load_design(local), Provenance(
            source=f"{source} {args.design}",
            proposal=proposal.read_text(encoding="utf-8") if proposal.is_file() else "",
        )
    with open_repo(args) as repo:
        record = repo.get(args.design)
        return repo.read_design(record.id), Provenance(
            source=f"design {record.id} of namespace {repo.namespace}",
            title=record.title,
            proposal=repo.read_design_files(record.id).get("proposal.md", ""),
            parents=record.parents,
            commit=record.commit,
            designer=record.designer,
            results={rung: dict(scores) for rung, scores in record.rungs.items()},
            fitness=record.fitness,
        )


def _push(out: Path, repo_id: str) -> str | None:
    """Upload ``out``; the repository's URL, or None where the Hub cannot be reached."""
    if os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0"):
        return None
    try:
        from huggingface_hub import HfApi

        api = HfApi()
        api.create_repo(repo_id, exist_ok=True)
        api.upload_folder(folder_path=str(out), repo_id=repo_id)
    except Exception as exc:  # no network, no token, refused: the directory stays written
        print(f"genesys: upload failed: {exc}")
        return None
    return f"https://huggingface.co/{repo_id}"
