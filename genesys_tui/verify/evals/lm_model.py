"""Our trained model behind lm-eval's ``LM`` interface, registered as lm-eval model ``genesys``.

The model only ever comes from trained weights: a checkpoint file (``checkpoint=PATH``, loaded
with ``load_checkpoint``, which rebuilds the design and loads its state dict strictly) or a model
object the caller already trained. There is no code path that builds a fresh model here: the seed
system's evaluator did, and its stored scores sat at chance. ``weights_sha256`` fingerprints the
weights actually scored, so a result can be traced to the checkpoint it came from.

Scoring: requests are sorted by length (longest first, so a batch's padding is small), padded on
the right with end-of-text (a causal model's outputs at a position never see later positions, so
right padding changes nothing that is read), and scored in float32. Sequences longer than the
model's context keep their last ``max_length`` tokens, as lm-eval's HFLM does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from lm_eval import utils as lm_utils
from lm_eval.api.model import TemplateLM
from lm_eval.api.registry import register_model
from lm_eval.models.utils import handle_stop_sequences
from torch import nn

from genesys_tui.errors import VerifyError
from genesys_tui.units.contract import DecodeCache
from genesys_tui.verify.tokenizer import Tokenizer, load_tokenizer

MODEL_NAME = "genesys"
DEFAULT_BATCH_SIZE = 32


def weights_sha256(model: nn.Module) -> str:
    """sha256 over the model's state dict (names, shapes, dtypes and values, in name order)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
        digest.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


def _batch_size(value: int | str | None) -> int:
    # lm-eval passes the CLI's --batch_size through as text; "auto" has no meaning for a model
    # this small, so it takes our default
    if value is None or str(value).startswith("auto"):
        return DEFAULT_BATCH_SIZE
    try:
        size = int(value)
    except ValueError:
        raise VerifyError(
            f"batch_size must be a positive integer or 'auto', got {value!r}"
        ) from None
    if size < 1:
        raise VerifyError(f"batch_size must be a positive integer, got {size}")
    return size


@register_model(MODEL_NAME)
class GenesysLM(TemplateLM):
    """A Genesys language model for lm-eval.

    Give ``checkpoint`` (a path, as lm-eval's ``--model_args checkpoint=PATH``) or both
    ``model`` (a trained ``LanguageModel``) and ``tokenizer`` (a ``Tokenizer`` or its name).
    ``max_length`` defaults to the model's context length.
    """

    def __init__(
        self,
        checkpoint: str | Path | None = None,
        *,
        model: nn.Module | None = None,
        tokenizer: Tokenizer | str | None = None,
        device: str | None = None,
        batch_size: int | str | None = DEFAULT_BATCH_SIZE,
        max_batch_size: int | None = None,  # lm-eval passes it; our batches are fixed
        max_length: int | str | None = None,
        max_gen_toks: int | str = 256,
    ) -> None:
        super().__init__()
        dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        if checkpoint is not None:
            if model is not None:
                raise VerifyError("give GenesysLM a checkpoint or a model, not both")
            from genesys_tui.verify.checkpoint import load_checkpoint

            model, meta = load_checkpoint(checkpoint, device=dev)
            tokenizer = tokenizer or meta.tokenizer
            self.checkpoint: Path | None = Path(checkpoint)
        elif model is None or tokenizer is None:
            raise VerifyError(
                "GenesysLM needs trained weights: --model_args checkpoint=PATH (a checkpoint "
                "written by genesys train), or a trained model and its tokenizer"
            )
        else:
            self.checkpoint = None
        self.tok: Tokenizer = (
            tokenizer if isinstance(tokenizer, Tokenizer) else load_tokenizer(str(tokenizer))
        )
        self.model = model.to(dev).eval()
        self._device = dev
        config = getattr(model, "config", None)
        context = getattr(config, "context_length", None)
        self.max_length = int(max_length or context or 256)
        self.batch_size = _batch_size(batch_size)
        self.max_gen_toks = int(max_gen_toks)
        vocab = getattr(config, "vocab_size", None)
        if vocab is not None and vocab < self.tok.vocab_size:
            raise VerifyError(
                f"the model's vocabulary ({vocab}) is smaller than tokenizer "
                f"{self.tok.name!r}'s ({self.tok.vocab_size}): they do not belong together"
            )
        self.weights_sha256 = weights_sha256(self.model)

    # -------------------------------------------------------------------- TemplateLM basics

    @property
    def eot_token_id(self) -> int:
        return self.tok.eot_id

    @property
    def tokenizer_name(self) -> str:
        return self.tok.name

    def tok_encode(
        self, string: str, add_special_tokens: bool | None = None, **kwargs: Any
    ) -> list[int]:
        return self.tok.encode(string)

    def tok_decode(self, ids: Sequence[int]) -> str:
        return self.tok.decode(ids)

    # ------------------------------------------------------------------------------ scoring

    @torch.no_grad()
    def _logprobs(self, rows: Sequence[Sequence[int]]) -> torch.Tensor:
        """Log-softmax (B, T, V) float32 of right-padded ``rows`` (each at most max_length)."""
        width = max(len(r) for r in rows)
        batch = torch.full((len(rows), width), self.eot_token_id, dtype=torch.long)
        for i, r in enumerate(rows):
            batch[i, : len(r)] = torch.tensor(r, dtype=torch.long)
        logits = self.model(batch.to(self._device))  # (B, T, V)
        return F.log_softmax(logits.float(), dim=-1)

    def _loglikelihood_tokens(
        self,
        requests: list[tuple[tuple[str, str], list[int], list[int]]],
        disable_tqdm: bool = False,
        **kwargs: Any,
    ) -> list[tuple[float, bool]]:
        """(log p(continuation | context), continuation is the greedy one) per request."""
        results: list[tuple[float, bool] | None] = [None] * len(requests)
        inputs = []
        for i, (_, context, continuation) in enumerate(requests):
            if not continuation:
                raise VerifyError("a loglikelihood request has an empty continuation")
            whole = (list(context) + list(continuation))[-(self.max_length + 1) :]
            inputs.append((i, whole[:-1], len(continuation)))
        inputs.sort(key=lambda item: -len(item[1]))
        for start in range(0, len(inputs), self.batch_size):
            chunk = inputs[start : start + self.batch_size]
            logprobs = self._logprobs([row for _, row, _ in chunk])
            argmax = logprobs.argmax(-1)  # (B, T): one call for the batch, not one per request
            for b, (i, row, n_cont) in enumerate(chunk):
                targets = requests[i][2]
                n_cont = min(n_cont, len(row))
                span = slice(len(row) - n_cont, len(row))
                lp = logprobs[b, span]  # (n_cont, V)
                want = torch.tensor(targets[-n_cont:], device=lp.device)
                score = float(lp.gather(-1, want[:, None]).sum())
                greedy = bool((argmax[b, span] == want).all())
                results[i] = (score, greedy)
                self.cache_hook.add_partial("loglikelihood", requests[i][0], (score, greedy))
        return [r for r in results if r is not None]

    def loglikelihood_rolling(self, requests: list[Any], disable_tqdm: bool = False) -> list[float]:
        """Total log-likelihood of each string, in disjoint windows of at most max_length."""
        windows: list[tuple[int, tuple[tuple[str, str], list[int], list[int]]]] = []
        for i, (string,) in enumerate(req.args for req in requests):
            for ctx, pred in map(
                lm_utils.make_disjoint_window,
                lm_utils.get_rolling_token_windows(
                    token_list=self.tok_encode(string),
                    prefix_token=self.prefix_token_id,
                    max_seq_len=self.max_length,
                    context_len=1,
                ),
            ):
                windows.append((i, (("", ""), ctx, pred)))
        scores = self._loglikelihood_tokens([w for _, w in windows])
        totals = [0.0] * len(requests)
        for (i, _), (score, _) in zip(windows, scores, strict=True):
            totals[i] += score
        for req, total in zip(requests, totals, strict=True):
            self.cache_hook.add_partial("loglikelihood_rolling", (req.args[0],), total)
        return totals

    # --------------------------------------------------------------------------- generation

    @torch.no_grad()
    def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
        """Greedy continuations, stopped at any ``until`` string or end-of-text.

        Requests whose contexts have the same token length and the same settings run as one
        batch (no padding needed, so every design sees exactly its own context).
        """
        eos = self.tok_decode([self.eot_token_id])
        results: list[str] = [""] * len(requests)
        groups: dict[tuple[Any, ...], list[tuple[int, list[int]]]] = {}
        settings: dict[tuple[Any, ...], tuple[list[str], int]] = {}
        for i, req in enumerate(requests):
            context, gen_kwargs = req.args
            kw: dict[str, Any] = dict(gen_kwargs or {})
            until = handle_stop_sequences(kw.get("until"), eos=eos)
            max_new = int(kw.get("max_gen_toks", kw.get("max_new_tokens", self.max_gen_toks)))
            ids = self.tok_encode(context) or [self.prefix_token_id]
            key = (len(ids), tuple(until), max_new)
            groups.setdefault(key, []).append((i, ids))
            settings[key] = (until, max_new)
        for key, members in groups.items():
            until, max_new = settings[key]
            for start in range(0, len(members), self.batch_size):
                chunk = members[start : start + self.batch_size]
                texts = self._greedy([ids for _, ids in chunk], until, max_new)
                for (i, _), text in zip(chunk, texts, strict=True):
                    results[i] = text
                    self.cache_hook.add_partial("generate_until", requests[i].args, text)
        return results

    def _greedy(self, contexts: list[list[int]], until: list[str], max_new: int) -> list[str]:
        x = torch.tensor(contexts, dtype=torch.long, device=self._device)  # (B, T)
        new: list[list[int]] = [[] for _ in contexts]
        done = [False] * len(contexts)
        # With a cache each step runs one token; only while the whole text fits the window
        # does that give what recomputing the (sliding) window gives.
        can_cache = getattr(self.model, "can_cache", None)
        cache = None
        if callable(can_cache) and can_cache() and x.shape[1] + max_new <= self.max_length:
            cache = DecodeCache()
        step = x
        for _ in range(max_new):
            if cache is None:
                logits = self.model(x[:, -self.max_length :])  # (B, T, V)
            else:
                logits = self.model(step, cache)
            nxt = logits[:, -1].float().argmax(-1)  # (B,)
            x = torch.cat([x, nxt[:, None]], dim=1)
            step = nxt[:, None]
            for b, t in enumerate(nxt.tolist()):
                if done[b]:
                    continue
                if t == self.eot_token_id:
                    done[b] = True
                    continue
                new[b].append(t)
                if any(s in self.tok_decode(new[b]) for s in until):
                    done[b] = True
            if all(done):
                break
        out = []
        for ids in new:
            text = self.tok_decode(ids)
            for s in until:
                if s:
                    text = text.split(s)[0]
            out.append(text)
        return out
