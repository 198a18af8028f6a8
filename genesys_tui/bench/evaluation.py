"""Evaluation throughput: log-likelihood requests per second, ours against lm-eval's ``HFLM``.

Both sides score the same requests (the whole sentences of generated minimal pairs, as BLiMP is
scored) at the same batch size: ours is ``GenesysLM`` around the GPT reference design; theirs is
``HFLM`` around a ``transformers`` GPT-2 of the same width, depth, heads, context and vocabulary,
built from a config (no download) with our tokenizer as its Hugging Face tokenizer. Rounds
alternate between the two, and each side reports the median of its rounds.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class EvalThroughput:
    requests: int  # log-likelihood requests per round
    ours: float  # requests per second, median over rounds
    hf: float  # requests per second of HFLM, median over rounds
    rounds_ours: tuple[float, ...]
    rounds_hf: tuple[float, ...]

    @property
    def ratio(self) -> float:
        return self.ours / self.hf

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "requests_per_second": {"genesys": round(self.ours, 1), "hflm": round(self.hf, 1)},
            "ratio": round(self.ratio, 3),
            "rounds": {"genesys": self.rounds_ours, "hflm": self.rounds_hf},
        }


def _requests(n: int, seed: int) -> list[Any]:
    from lm_eval.api.instance import Instance

    from genesys_tui.verify.evals.blimp_gen import PHENOMENA, generate

    texts: list[str] = []
    per = max(2, -(-n // (2 * len(PHENOMENA))) * 2)
    for ph in PHENOMENA:
        for p in generate(ph, per, seed):
            texts += [p.good, p.bad]
    return [
        Instance("loglikelihood", {}, ("", " " + t), i, ("bench", i, 1))
        for i, t in enumerate(texts[:n])
    ]


def compare(
    *,
    d_model: int = 128,
    n_layers: int = 4,
    n_heads: int = 4,
    context: int = 128,
    tokenizer: str = "bpe4k",
    batch_size: int = 32,
    requests: int = 1000,
    rounds: int = 5,
    seed: int = 0,
) -> EvalThroughput:
    """Median requests/s of ours and of HFLM on the same ``requests``, alternating rounds."""
    from lm_eval.models.huggingface import HFLM
    from transformers import GPT2Config, GPT2LMHeadModel

    from genesys_tui.config import ModelConfig
    from genesys_tui.design import load_design
    from genesys_tui.resources import library_dir
    from genesys_tui.units.lm import build_lm
    from genesys_tui.verify.evals.lm_model import GenesysLM
    from genesys_tui.verify.tokenizer import load_tokenizer

    tok = load_tokenizer(tokenizer)
    design = load_design(library_dir() / "gpt")
    config = ModelConfig(
        d_model=d_model, n_layers=n_layers, vocab_size=tok.vocab_size, context_length=context
    )
    ours = GenesysLM(
        model=build_lm(design, config, seed=seed), tokenizer=tok, device="cpu",
        batch_size=batch_size,
    )  # fmt: skip
    torch.manual_seed(seed)
    hf_model = GPT2LMHeadModel(
        GPT2Config(
            vocab_size=tok.vocab_size, n_positions=context, n_embd=d_model, n_layer=n_layers,
            n_head=n_heads, bos_token_id=tok.eot_id, eos_token_id=tok.eot_id,
        )
    ).eval()  # fmt: skip
    hf = HFLM(
        pretrained=hf_model, tokenizer=tok.as_hf(), batch_size=batch_size, device="cpu",
        max_length=context,
    )  # fmt: skip
    reqs = _requests(requests, seed)
    runners = {
        "ours": lambda: ours.loglikelihood(reqs, disable_tqdm=True),
        "hf": lambda: hf.loglikelihood(reqs, disable_tqdm=True),
    }
    for run in runners.values():  # warm up allocators and caches
        run()
    per_round: dict[str, list[float]] = {k: [] for k in runners}
    for r in range(rounds):
        for name in runners if r % 2 == 0 else reversed(list(runners)):
            t0 = time.perf_counter()
            runners[name]()
            per_round[name].append(len(reqs) / (time.perf_counter() - t0))
    return EvalThroughput(
        len(reqs), statistics.median(per_round["ours"]), statistics.median(per_round["hf"]),
        tuple(round(v, 1) for v in per_round["ours"]), tuple(round(v, 1) for v in per_round["hf"]),
    )  # fmt: skip


if __name__ == "__main__":  # python -m genesys_tui.bench.evaluation
    import json

    print(json.dumps(compare().to_dict()))
