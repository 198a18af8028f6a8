"""The trusted side's audit of a walled verify job's bits per byte (verify/audit.py): the
windows it names are the trainer's, its loss is torch's, a forged claim is caught, and a design
that patches the loss function fails its verification with a reason that says so."""

from __future__ import annotations

import dataclasses
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from genesys_tui.ladder import load_ladder
from genesys_tui.results import RungResult
from genesys_tui.verify import audit
from genesys_tui.verify.audit import AuditFailed, Auditor, encode_logits, window_nll
from genesys_tui.verify.batches import eval_batches
from genesys_tui.verify.train import _first_windows

LADDER = str(Path(__file__).parents[1] / "evolve" / "tiny_ladder.toml")
LIBRARY = Path(__file__).parents[2] / "library"


@pytest.mark.parametrize(
    ("n_tokens", "micro", "context", "eval_tokens"),
    [(1000, 4, 32, 256), (1000, 4, 32, 10), (1000, 3, 32, 10_000), (97, 2, 32, 40),
     (90, 2, 32, 1000), (90, 2, 32, 64)],
)
def test_the_named_windows_are_the_ones_the_trainer_scores(
    n_tokens: int, micro: int, context: int, eval_tokens: int
) -> None:
    rung = load_ladder(LADDER).rung("tiny-0")
    rung = dataclasses.replace(rung, batch_size=micro, micro_batch_size=micro,
                               context_length=context, eval_tokens=eval_tokens)
    stream = np.arange(n_tokens, dtype=np.uint16)
    trainer = [(int(x[i, 0]), x.shape[1]) for x, _ in _first_windows(stream, rung)
               for i in range(x.shape[0])]  # fmt: skip
    assert audit.heldout_windows(n_tokens, micro, context, eval_tokens) == trainer
    assert trainer  # at least one window always
    assert len(list(eval_batches(stream, micro, context))) >= 1


def test_window_loss_is_torch_cross_entropy_in_float64() -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(17, 50, generator=g) * 6
    targets = torch.randint(0, 50, (17,), generator=g)
    want = F.cross_entropy(logits.double(), targets, reduction="sum").item()
    assert window_nll(logits.numpy(), targets.numpy()) == pytest.approx(want, rel=1e-12)


def _honest(auditor: Auditor, stream: np.ndarray, vocab: int, cheat: float = 1.0):
    """Claims and shown logits from a fixed random 'model'; ``cheat`` scales every claim."""
    rng = np.random.default_rng(0)
    logits = {i: rng.normal(size=(n, vocab)).astype(np.float32) * 3
              for i, (_, n) in enumerate(auditor.windows)}  # fmt: skip
    claims = [window_nll(logits[i], stream[s + 1 : s + n + 1]) * cheat
              for i, (s, n) in enumerate(auditor.windows)]  # fmt: skip
    challenged = auditor.challenge(claims)
    return {str(i): encode_logits(logits[i]) for i in challenged}, claims


def test_honest_claims_pass_and_give_the_bits_per_byte_of_their_sum() -> None:
    vocab, stream = 40, np.random.default_rng(1).integers(0, 40, 600).astype(np.uint16)
    token_bytes = np.full(vocab, 2, dtype=np.int64)
    auditor = Auditor(audit.heldout_windows(len(stream), 4, 32, 320))
    shown, claims = _honest(auditor, stream, vocab)
    assert len(auditor.challenged) == audit.CHALLENGES
    bpb = auditor.judge(shown, [vocab], stream, token_bytes)
    n_bytes = 2 * sum(n for _, n in auditor.windows)
    assert bpb == pytest.approx(sum(claims) / (math.log(2) * n_bytes), rel=1e-12)
    audit.check_bpb(bpb * (1 + 1e-6), bpb)
    with pytest.raises(AuditFailed, match="bits per byte"):
        audit.check_bpb(bpb * 0.99, bpb)


def test_forged_claims_missing_logits_and_a_second_claim_are_refused() -> None:
    vocab, stream = 40, np.random.default_rng(2).integers(0, 40, 600).astype(np.uint16)
    token_bytes = np.ones(vocab, dtype=np.int64)
    auditor = Auditor(audit.heldout_windows(len(stream), 4, 32, 320))
    shown, _ = _honest(auditor, stream, vocab, cheat=0.9)  # every loss claimed 10% lower
    with pytest.raises(AuditFailed, match="patched loss"):
        auditor.judge(shown, [vocab], stream, token_bytes)
    with pytest.raises(AuditFailed, match="twice"):
        auditor.challenge([1.0] * len(auditor.windows))

    auditor = Auditor(audit.heldout_windows(len(stream), 4, 32, 320))
    shown, _ = _honest(auditor, stream, vocab)
    shown.pop(next(iter(shown)))
    with pytest.raises(AuditFailed, match="did not send"):
        auditor.judge(shown, [vocab], stream, token_bytes)

    auditor = Auditor(audit.heldout_windows(len(stream), 4, 32, 320))
    with pytest.raises(AuditFailed, match="window losses"):
        auditor.challenge([1.0, float("nan")])
    with pytest.raises(AuditFailed, match="before its claims"):
        Auditor([(0, 4)]).judge({}, [vocab], stream, token_bytes)


CHEAT = '''

# A loss function that reports half the loss, installed when the design is imported.
_real_cross_entropy = F.cross_entropy


def _half_cross_entropy(*args, **kwargs):
    return _real_cross_entropy(*args, **kwargs) * 0.5


F.cross_entropy = _half_cross_entropy
'''


@pytest.mark.slow
def test_a_walled_verification_is_audited_and_a_patched_loss_fails_it(
    tmp_path: Path, available_wall: None
) -> None:
    from genesys_tui.evolve.jobs import verify_host

    honest = RungResult.from_wire(verify_host(str(LIBRARY / "gpt"), "tiny-0", ladder=LADDER,
                                              tasks_min_tokens=10**9, timeout=600))  # fmt: skip
    assert honest.ok, honest.reason
    audited = [n for n in honest.notes if n.startswith("bpb audited: ")]
    assert audited and float(audited[0].split(": ")[1]) == pytest.approx(honest.bpb, rel=1e-4)

    cheat = tmp_path / "gpt"
    shutil.copytree(LIBRARY / "gpt", cheat)
    mlp = cheat / "units" / "mlp.py"
    assert "import torch.nn.functional as F" in mlp.read_text()
    mlp.write_text(mlp.read_text() + CHEAT)
    forged = RungResult.from_wire(verify_host(str(cheat), "tiny-0", ladder=LADDER,
                                              tasks_min_tokens=10**9, timeout=600))  # fmt: skip
    assert not forged.ok
    assert forged.reason.startswith("audit: ") and "patched loss" in forged.reason
