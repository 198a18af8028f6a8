"""Prices, the cost ledger and its budgets; API keys and their redaction."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from genesys_tui.agents.costs import BudgetExhausted, CostLedger, PriceTable, Usage
from genesys_tui.agents.dialogue import Transcript
from genesys_tui.agents.secrets import REDACT, api_key, install_log_redaction
from genesys_tui.errors import ConfigError
from tests.agents.conftest import ANTHROPIC_KEY, LOCAL_KEY, OPENAI_KEY


@pytest.mark.parametrize(
    ("provider", "model", "price", "known"),
    [
        ("anthropic", "claude-haiku-4-5", (1.0, 5.0), True),
        ("anthropic", "claude-haiku-4-5-20251001", (1.0, 5.0), True),
        ("openai", "gpt-4.1-mini", (0.4, 1.6), True),
        ("openai", "gpt-4.1-mini-2025-04-14", (0.4, 1.6), True),
        ("openai", "gpt-9-unreleased", (15.0, 60.0), False),
        ("openai-compatible", "qwen2.5-coder", (0.0, 0.0), False),
    ],
    ids=["exact", "dated", "dotted", "dotted-dated", "unknown-default", "local-free"],
)
def test_price_lookup(provider: str, model: str, price: tuple, known: bool) -> None:
    found, is_known = PriceTable.load().price(provider, model)
    assert (found.input, found.output) == price and is_known == known


def test_a_user_price_file_overrides_the_shipped_table(tmp_path: Path) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text('["openai-compatible"]\n"my-model" = { input = 1.0, output = 2.0 }\n')
    table = PriceTable.load(prices)
    assert table.cost("openai-compatible", "my-model", Usage(1_000_000, 500_000)) == 2.0
    assert table.price("anthropic", "claude-haiku-4-5")[1]  # the rest is kept


def test_a_bad_price_file_names_the_entry(tmp_path: Path) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text('[openai]\n"gpt-x" = { input = -1.0, output = 2.0 }\n')
    with pytest.raises(ConfigError, match=r"openai\.gpt-x"):
        PriceTable.load(prices)


def test_ledger_totals_per_design_role_and_run() -> None:
    ledger = CostLedger(PriceTable.load())
    ledger.charge("d1", "coder", "anthropic", "claude-haiku-4-5", Usage(1_000_000, 0))
    ledger.charge("d1", "observer", "anthropic", "claude-haiku-4-5", Usage(0, 1_000_000))
    ledger.charge("d2", "coder", "openai-compatible", "local", Usage(500, 700))
    summary = ledger.summary()
    assert summary["run"]["usd"] == 6.0 and summary["run"]["calls"] == 3
    assert summary["roles"]["coder"]["usd"] == 1.0
    assert summary["designs"]["d2"] == {
        "usd": 0.0,
        "input_tokens": 500,
        "output_tokens": 700,
        "calls": 1,
    }


@pytest.mark.parametrize("which", ["design", "run"])
def test_budget_is_enforced_before_the_next_call(which: str) -> None:
    caps = {"design_budget_usd": 1.0} if which == "design" else {"run_budget_usd": 1.5}
    ledger = CostLedger(PriceTable.load(), **caps)
    ledger.ensure_budget("d1")
    ledger.charge("d1", "coder", "anthropic", "claude-haiku-4-5", Usage(1_000_000, 0))
    if which == "run":
        ledger.ensure_budget("d2")  # 1.0 of 1.5 spent: d2 may start
        ledger.charge("d2", "coder", "anthropic", "claude-haiku-4-5", Usage(500_000, 0))
    with pytest.raises(BudgetExhausted, match=f"{which} budget"):
        ledger.ensure_budget("d2" if which == "run" else "d1")


def test_the_environment_wins_over_the_keys_file(tmp_path: Path, monkeypatch) -> None:
    keys = tmp_path / "keys.toml"
    keys.write_text(
        'anthropic = "sk-ant-from-file-0123456789"\nopenai = "sk-from-file-000000000000000000"\n'
    )
    monkeypatch.delenv("OPENAI_API_KEY")
    assert api_key("anthropic", keys) == ANTHROPIC_KEY
    assert api_key("openai", keys) == "sk-from-file-000000000000000000"
    assert REDACT("x sk-from-file-000000000000000000 y") == "x [redacted] y"


def test_a_missing_key_names_both_places(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(ConfigError, match=r"OPENAI_API_KEY.*keys\.toml"):
        api_key("openai", tmp_path / "keys.toml")
    assert api_key("openai-compatible", tmp_path / "none.toml", required=False) == LOCAL_KEY


def test_a_keys_file_inside_a_designs_repository_is_refused(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "designs" / ".git" / "genesys").mkdir(parents=True)
    keys = tmp_path / "designs" / "keys.toml"
    keys.write_text('openai = "sk-whatever-000000000000000000"\n')
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(ConfigError, match="inside the designs repository"):
        api_key("openai", keys)


def test_log_records_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    api_key("openai")
    install_log_redaction()
    with caplog.at_level(logging.DEBUG, logger="openai"):
        logging.getLogger("openai._base_client").debug("headers: %s", {"auth": OPENAI_KEY})
    assert OPENAI_KEY not in caplog.text and "[redacted]" in caplog.text


def test_a_key_split_across_streamed_chunks_is_still_redacted() -> None:
    api_key("anthropic")
    said: list[str] = []
    log = Transcript(lambda role, text: said.append(text))
    text = f"the key is {ANTHROPIC_KEY} and more"
    for i in range(0, len(text), 7):
        log.chunk("proposer", text[i : i + 7])
    log.reply("proposer", "m", text, Usage(1, 1), 0.0, 0)
    assert ANTHROPIC_KEY not in "".join(said) and "[redacted]" in "".join(said)
    assert ANTHROPIC_KEY not in log.to_jsonl()


def test_the_models_the_readme_names_are_priced_and_a_defaulted_price_is_flagged() -> None:
    import re

    from tests.conftest import REPO

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    specs = set(re.findall(r"\b(anthropic|openai):([a-z0-9][a-z0-9.-]*[a-z0-9])", readme))
    assert ("anthropic", "claude-sonnet-4-6") in specs and ("openai", "gpt-4.1") in specs
    table = PriceTable.load()
    assert [s for s in specs if not table.price(*s)[1]] == []
    assert table.defaulted("anthropic", "claude-next") is True
    assert table.defaulted("openai-compatible", "qwen") is False  # free, not a guess
    ledger = CostLedger(table)
    ledger.charge("d", "coder", "anthropic", "claude-next", Usage(10, 10))
    ledger.charge("d", "coder", "anthropic", "claude-sonnet-4-6", Usage(10, 10))
    assert ledger.summary()["defaulted_prices"] == ["anthropic:claude-next"]
