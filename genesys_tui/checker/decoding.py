"""The decoding stage: a design whose units all declare that they decode with a cache
(``decode = "pointwise"`` or ``"cached"``) must give, token by token against a ``DecodeCache``,
the logits its ordinary forward gives. A wrong declaration would make every generation of the
design (``genesys generate``, lm-eval's generate_until, the exported Hugging Face model) silently
differ from the model that was trained and scored; it never changes a score, because training
and scoring run the ordinary forward.
"""

from __future__ import annotations

import torch

from genesys_tui.checker.context import RuntimeContext
from genesys_tui.checker.report import Finding
from genesys_tui.units.contract import DecodeCache

#: float32 logits of the tiny model agree to about 1e-6; a wrong state is off by far more
TOLERANCE = 1e-3


def stage_decoding(ctx: RuntimeContext) -> list[Finding]:
    model = ctx.build().eval()
    if not model.can_cache():
        return []  # the model recomputes the prefix for every token: right by construction
    x, _ = ctx.batch(salt=6, batch=2)
    T = x.shape[1]
    prompt = max(1, T // 3)
    with torch.no_grad():
        full = model(x)
        cache = DecodeCache()
        steps = [model(x[:, :prompt], cache)]
        steps += [model(x[:, t : t + 1], cache) for t in range(prompt, T)]
    diff = (torch.cat(steps, dim=1) - full).abs().amax(dim=(0, 2))  # (T,)
    scale = max(1.0, float(full.abs().max()))
    bad = (diff > TOLERANCE * scale).nonzero()
    if bad.numel() == 0:
        return []
    t = int(bad[0])
    cached = sorted(
        {type(m).__name__ for m in model.modules() if getattr(m, "decode", "") == "cached"}
    )
    where = "the prompt" if t < prompt else f"token {t} (the prompt is {prompt} tokens)"
    return [
        ctx.finding(
            "decoding",
            f"decoding with a cache gives other logits than the forward pass from {where} on "
            f"(by up to {float(diff[t]):.3g}); the units that keep state: "
            f"{', '.join(cached) or 'none'}",
            "keep in self.decoding() what later tokens need and read self.decoding_offset() "
            "for positions, or remove the unit's decode declaration (the model then "
            "recomputes the prefix for every token)",
        )
    ]
