"""How scores read, the same in every view: the dashboard, ``genesys log`` and the headless
leaderboard. Plain text, no torch, no textual."""

from __future__ import annotations

import math


def format_fitness(value: float | None) -> str:
    """A fitness (the margin over the seeds' mean score) as a signed number with four decimals:
    ``+0.0131``, ``-0.0392``, ``+0.0000``; ``-`` when there is none (not measured, or not
    finite). A value that rounds to zero reads ``+0.0000``, never ``-0.0000``."""
    if value is None or not math.isfinite(value):
        return "-"
    rounded = round(value, 4)
    return f"{rounded + 0.0:+.4f}" if rounded != 0 else "+0.0000"
