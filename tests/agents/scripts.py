"""Scripted replies of a competent (fake) model, one per role and step, used by the tests."""

from __future__ import annotations

import json

PROPOSAL = """# SwiGLU channel mixer for GPT

## Motivation

The GELU MLP applies one fixed non-linearity to every hidden unit. Gated linear units let
each hidden unit be switched by a second projection of the same input, which PaLM and LLaMA
found to lower perplexity at equal parameters.

## Design

Replace the channel mixer `mlp` with `SwiGLU`: `out_proj(silu(X W_gate) * (X W_up))`, with a
hidden width of 2/3 of `expand * D`, so the three matrices hold as many parameters as the two
of the MLP. Every other unit stays as it is.

## Why it might help

The multiplicative gate adds input-dependent sparsity to the hidden layer at no extra cost.

## Risks

Slightly slower per step (three matrices instead of two); the gain may be small at tiny sizes.
"""

REVIEW_OK = 'Clear, feasible and well motivated.\n\n```json\n{"rating": 4, "summary": "sound"}\n```'
REVIEW_LOW = (
    "The proposal does not say how the width is chosen.\n\n"
    '```json\n{"rating": 2, "summary": "underspecified"}\n```'
)


def proposal(
    title: str = "SwiGLU channel mixer", name: str = "gpt-swiglu", unit: str = "mlp"
) -> str:
    meta = json.dumps({"title": title, "name": name, "unit": unit})
    return f"{PROPOSAL}\n```json\n{meta}\n```\n"


def plan(**data: object) -> str:
    return "The plan:\n\n```json\n" + json.dumps(data) + "\n```\n"


MUTATION_PLAN = plan(
    base="gpt-1",
    write=[
        {
            "id": "mlp",
            "class": "SwiGLU",
            "role": "channel_mixer",
            "args": {"expand": 4},
            "spec": "out_proj(silu(gate(X)) * up(X)) with hidden width 2/3 * expand * D",
        }
    ],
)

SWIGLU = '''"""SwiGLU: a gated channel mixer, out_proj(silu(X W_gate) * X W_up)."""

import torch.nn.functional as F
from torch import nn

from genesys_tui.units import Arg, Unit


class SwiGLU(Unit):
    role = "channel_mixer"
    args = {"expand": Arg(4, low=1, high=16, doc="hidden width, as 3/2 x this x d_model / 3")}

    def __init__(self, ctx, expand=4):
        super().__init__(ctx)
        hidden = 2 * expand * ctx.d_model // 3
        self.gate = nn.Linear(ctx.d_model, hidden, bias=False)
        self.up = nn.Linear(ctx.d_model, hidden, bias=False)
        self.out_proj = nn.Linear(hidden, ctx.d_model, bias=False)

    def forward(self, X, **Z):
        return self.out_proj(F.silu(self.gate(X)) * self.up(X)), Z
'''

# The same unit, first written with a banned import the static checker rejects.
SWIGLU_BAD = SWIGLU.replace(
    "import torch.nn.functional as F\n", "import os\nimport torch.nn.functional as F\n"
).replace("hidden = 2", "hidden = int(os.environ.get('H', 0)) or 2")


def code(source: str) -> str:
    return f"Here is the unit.\n\n```python\n{source}```\n"


ACCEPT = (
    "The code matches the spec and the checker passed.\n\n"
    '```json\n{"verdict": "accept", "feedback": ""}\n```'
)
REVISE = (
    "The checker refused `import os`: unit code may not touch the environment.\n\n"
    '```json\n{"verdict": "revise", "feedback": "remove import os and compute the width '
    'from expand and d_model only"}\n```'
)

# A crossover of gpt and retnet: gpt's block over retnet's retention, with a new norm.
CROSSOVER_PROPOSAL = PROPOSAL.replace(
    "# SwiGLU channel mixer for GPT", "# Attention-retention hybrid"
)
SCALED_NORM = '''"""RMSNorm with a learned scalar temperature on top of the per-channel gain."""

import torch
from torch import nn

from genesys_tui.units import Arg, Unit


class ScaledRMSNorm(Unit):
    role = "norm"
    args = {"eps": Arg(1e-5, low=1e-8, high=1e-2, doc="added to the mean square")}

    def __init__(self, ctx, eps=1e-5):
        super().__init__(ctx)
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(ctx.d_model))
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, X, **Z):
        rms = torch.rsqrt(X.pow(2).mean(-1, keepdim=True) + self.eps)
        return X * rms * self.weight * self.scale, Z
'''
CROSSOVER_PLAN = plan(
    base="gpt-1",
    layers=[{"from": "gpt-1", "unit": "block"}, {"from": "retnet-2", "unit": "block"}],
    write=[
        {
            "id": "retnet-2:msr_norm",
            "class": "ScaledRMSNorm",
            "role": "norm",
            "args": {},
            "spec": "RMSNorm with a learned per-channel gain and a learned scalar temperature",
        }
    ],
)


def crossover_proposal() -> str:
    meta = json.dumps({"title": "Attention and retention layers", "name": "gpt-retnet-hybrid"})
    return f"{CROSSOVER_PROPOSAL}\n```json\n{meta}\n```\n"
