"""What model calls cost: a price table (shipped TOML, user overrides) and a ledger of spending.

Usage comes from each response (input and output tokens; estimated from the text when a local
server reports none); cost is tokens times the table's price per million. The ledger keeps totals
per design, per role and per run, and enforces the per-design and per-run budgets: a call is
refused *before* it is made once a budget is spent, so a designer stops cleanly between calls.
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from genesys_tui.config import load_toml
from genesys_tui.errors import ConfigError, GenesysError

SHIPPED_PRICES = Path(__file__).resolve().parent / "prices.toml"
_DATED = re.compile(r"-(\d{4}-?\d{2}-?\d{2}|latest)$")


class BudgetExhausted(GenesysError):
    """A cost cap was reached; the designer stops and records the reason."""


@dataclass(frozen=True)
class Price:
    input: float  # USD per million input tokens
    output: float  # USD per million output tokens


@dataclass(frozen=True)
class Usage:
    """Tokens one response used; ``estimated`` when the server did not report them."""

    input_tokens: int = 0
    output_tokens: int = 0
    estimated: bool = False

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.estimated or other.estimated,
        )


def estimate_tokens(text: str) -> int:
    """A rough token count (4 characters a token) for servers that report no usage."""
    return max(1, len(text) // 4) if text else 0


class PriceTable:
    """provider -> model prefix -> Price; a model is priced by its longest matching prefix."""

    def __init__(self, table: Mapping[str, Mapping[str, Price]]) -> None:
        self.table = {p: dict(models) for p, models in table.items()}

    @classmethod
    def load(cls, override: str | Path = "") -> PriceTable:
        """The shipped table, with the entries of ``override`` (a TOML file) replacing its own."""
        table = _parse(load_toml(SHIPPED_PRICES), SHIPPED_PRICES)
        if override:
            for provider, models in _parse(load_toml(override), Path(override)).items():
                table.setdefault(provider, {}).update(models)
        return cls(table)

    def price(self, provider: str, model: str) -> tuple[Price, bool]:
        """(price, known): ``known`` is False when the provider's default was used.

        A model matches an entry of its exact name, or that name plus a date or ``-latest``
        (``claude-haiku-4-5-20251001``); a newer model that merely shares a prefix does not,
        since its price is not known.
        """
        models = self.table.get(provider, {})
        for name in (model, _DATED.sub("", model)):
            if name != "default" and name in models:
                return models[name], True
        return models.get("default", Price(0.0, 0.0)), False

    def defaulted(self, provider: str, model: str) -> bool:
        """True when ``model`` is charged at its provider's default price because the table
        does not list it (a free default, as for openai-compatible servers, is no guess)."""
        price, known = self.price(provider, model)
        return not known and (price.input > 0 or price.output > 0)

    def cost(self, provider: str, model: str, usage: Usage) -> float:
        """US dollars for ``usage`` on ``model``."""
        price, _ = self.price(provider, model)
        return (usage.input_tokens * price.input + usage.output_tokens * price.output) / 1e6


def _parse(data: Mapping[str, object], path: Path) -> dict[str, dict[str, Price]]:
    out: dict[str, dict[str, Price]] = {}
    for provider, models in data.items():
        if not isinstance(models, dict):
            raise ConfigError(f"{path}: [{provider}] must be a table of models")
        for model, entry in models.items():
            where = f"{path}: {provider}.{model}"
            if not isinstance(entry, dict) or set(entry) != {"input", "output"}:
                raise ConfigError(f"{where} must be {{ input = USD/Mtok, output = USD/Mtok }}")
            values = [entry["input"], entry["output"]]
            if any(isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 for v in values):
                raise ConfigError(f"{where}: prices must be numbers >= 0")
            out.setdefault(provider, {})[model] = Price(float(values[0]), float(values[1]))
    return out


@dataclass
class Totals:
    usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    calls: int = 0

    def add(self, usd: float, usage: Usage) -> None:
        self.usd += usd
        self.input_tokens += usage.input_tokens
        self.output_tokens += usage.output_tokens
        self.calls += 1

    def to_dict(self) -> dict[str, float | int]:
        return {
            "usd": round(self.usd, 6),
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "calls": self.calls,
        }


@dataclass
class CostLedger:
    """Spending of one run; thread-safe, shared by every design session of the run."""

    prices: PriceTable
    design_budget_usd: float = 0.0  # 0: no cap
    run_budget_usd: float = 0.0  # 0: no cap
    run: Totals = field(default_factory=Totals)
    by_design: dict[str, Totals] = field(default_factory=lambda: defaultdict(Totals))
    by_role: dict[str, Totals] = field(default_factory=lambda: defaultdict(Totals))
    defaulted: set[str] = field(default_factory=set)  # "provider:model" charged at a default
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def charge(self, design: str, role: str, provider: str, model: str, usage: Usage) -> float:
        """Record one response; return its cost in US dollars."""
        usd = self.prices.cost(provider, model, usage)
        guessed = self.prices.defaulted(provider, model)
        with self._lock:
            if guessed:
                self.defaulted.add(f"{provider}:{model}")
            self.run.add(usd, usage)
            self.by_design[design].add(usd, usage)
            self.by_role[role].add(usd, usage)
        return usd

    def design_usd(self, design: str) -> float:
        with self._lock:
            return self.by_design[design].usd if design in self.by_design else 0.0

    def ensure_budget(self, design: str) -> None:
        """Raise BudgetExhausted when the design's or the run's budget is spent."""
        spent = self.design_usd(design)
        if self.design_budget_usd and spent >= self.design_budget_usd:
            raise BudgetExhausted(
                f"the design budget is spent (${spent:.4f} of ${self.design_budget_usd:.2f}); "
                "raise [agents] design_budget_usd to allow more per design"
            )
        if self.run_budget_usd and self.run.usd >= self.run_budget_usd:
            raise BudgetExhausted(
                f"the run budget is spent (${self.run.usd:.4f} of ${self.run_budget_usd:.2f}); "
                "raise [agents] run_budget_usd to continue"
            )

    def summary(self) -> dict[str, object]:
        """Totals per run, role and design, as plain data."""
        with self._lock:
            return {
                "run": self.run.to_dict(),
                "roles": {k: v.to_dict() for k, v in sorted(self.by_role.items())},
                "designs": {k: v.to_dict() for k, v in sorted(self.by_design.items())},
                "defaulted_prices": sorted(self.defaulted),
            }
