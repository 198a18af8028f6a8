"""The trusted side's scoring of a walled verify job (verify/audit.py): the windows it scores
are the trainer's, its loss is torch's, its bits per byte are its losses over the targets'
bytes, a design that patches the loss function changes none of its figures, and a design cannot
read the held-out text it is scored on."""

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
from genesys_tui.verify.audit import AuditFailed, Auditor, window_nll
from genesys_tui.verify.batches import eval_batches
from genesys_tui.verify.metrics import first_windows

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
    trainer = [(int(x[i, 0]), x.shape[1]) for x, _ in first_windows(stream, rung)
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


def test_the_bits_per_byte_are_the_auditors_losses_over_the_targets_bytes() -> None:
    stream = np.random.default_rng(1).integers(0, 40, 600).astype(np.uint16)
    token_bytes = np.arange(40, dtype=np.int64) % 3  # 0, 1 or 2 bytes a token
    auditor = Auditor.for_rung(len(stream), dataclasses.replace(
        load_ladder(LADDER).rung("tiny-0"), batch_size=4, micro_batch_size=4, context_length=32,
        eval_tokens=320))  # fmt: skip
    assert len(auditor.windows) == 10 and len(auditor.probed) == audit.PROBED
    assert set(auditor.probed) <= set(range(10)) and auditor.probed == sorted(auditor.probed)
    losses = [float(i + 1) for i in range(10)]
    n_bytes = sum(int(token_bytes[t]) for s, n in auditor.windows
                  for t in stream[s + 1 : s + n + 1])  # fmt: skip
    assert sum(n for _, n in auditor.windows) == 320  # every target of the budget
    bpb = auditor.bpb(losses, stream, token_bytes)
    assert bpb == pytest.approx(55 / (math.log(2) * n_bytes), rel=1e-12)


@pytest.mark.parametrize(
    ("losses", "words"),
    [(None, "scored 0 of 3"), ([1.0, 2.0], "scored 2 of 3"),
     ([1.0, float("nan"), 2.0], "not all finite"), ([1.0, -1.0, 2.0], "not all finite"),
     ([1.0, "2", 3.0], "not all finite")],
)
def test_held_out_losses_that_do_not_read_are_refused(losses: object, words: str) -> None:
    stream = np.zeros(200, dtype=np.uint16)
    auditor = Auditor([(0, 32), (32, 32), (64, 32)], [0])
    with pytest.raises(AuditFailed, match=words):
        auditor.bpb(losses, stream, np.ones(1, dtype=np.int64))


CHEAT = '''

# A loss function that reports half the loss, installed when the design is imported.
_real_cross_entropy = F.cross_entropy


def _half_cross_entropy(*args, **kwargs):
    return _real_cross_entropy(*args, **kwargs) * 0.5


F.cross_entropy = _half_cross_entropy
'''

PEEK = '''

# Reads the text it is scored on when the design is imported, and says how much it saw.
def _peek(paths):
    seen = 0
    for path in paths:
        try:
            with open(path, "rb") as fh:
                seen += len(fh.read())
        except OSError:
            pass
    if seen:
        raise RuntimeError(f"the design read {seen} bytes of held-out text")


_peek(PATHS)
'''


@pytest.mark.slow
def test_a_patched_loss_function_reaches_no_figure_of_a_walled_verification(
    tmp_path: Path, available_wall: None
) -> None:
    from genesys_tui.evolve.jobs import verify_host

    honest = RungResult.from_wire(verify_host(str(LIBRARY / "gpt"), "tiny-0", ladder=LADDER,
                                              tasks_min_tokens=10**9, timeout=600))  # fmt: skip
    assert honest.ok, honest.reason
    assert any(n.startswith("graph scored: ") for n in honest.notes)
    from genesys_tui.verify.numerics import numerics

    assert honest.numerics == numerics("cpu")  # the auditor's, on this machine

    cheat = tmp_path / "gpt"
    shutil.copytree(LIBRARY / "gpt", cheat)
    mlp = cheat / "units" / "mlp.py"
    assert "import torch.nn.functional as F" in mlp.read_text()
    mlp.write_text(mlp.read_text() + CHEAT)
    patched = RungResult.from_wire(verify_host(str(cheat), "tiny-0", ladder=LADDER,
                                               tasks_min_tokens=10**9, timeout=600))  # fmt: skip
    # Its training saw half the loss (AdamW does not mind the scale); its figures are the
    # graph's, scored by the auditor: not half of anything.
    assert patched.ok, patched.reason
    assert patched.bpb == pytest.approx(honest.bpb, rel=0.02)


@pytest.mark.slow
def test_a_design_cannot_read_the_text_it_is_scored_on(
    tmp_path: Path, available_wall: None
) -> None:
    from genesys_tui.evolve.jobs import verify_host
    from genesys_tui.verify.corpus import embedded_held_out_files
    from genesys_tui.verify.token_cache import load_tokens

    rung = load_ladder(LADDER).rung("tiny-0")
    held_out = load_tokens("validation", rung.tokenizer).path
    paths = [str(held_out / "tokens.bin"), *embedded_held_out_files()]
    assert all(Path(p).stat().st_size > 0 for p in paths)  # here, outside the cell
    peek = tmp_path / "gpt"
    shutil.copytree(LIBRARY / "gpt", peek)
    mlp = peek / "units" / "mlp.py"
    mlp.write_text(mlp.read_text() + f"\nPATHS = {paths!r}\n" + PEEK)
    with pytest.raises(RuntimeError, match="bytes of held-out text"):  # the design works
        exec(compile(f"PATHS = {paths!r}\n" + PEEK, "peek", "exec"), {})
    result = RungResult.from_wire(verify_host(str(peek), "tiny-0", ladder=LADDER,
                                              tasks_min_tokens=10**9, timeout=600))  # fmt: skip
    assert result.ok, result.reason  # the cell read nothing of them
