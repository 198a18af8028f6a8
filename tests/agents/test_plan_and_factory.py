"""Plans applied to parents (protection, files, grafts, scratch) and the designer factory."""

from __future__ import annotations

import pytest

from genesys_tui.agents.factory import ModelSpec, make_llm_designer
from genesys_tui.agents.plan import Assembly
from genesys_tui.agents.replies import ReplyError
from genesys_tui.agents.settings import AgentsConfig
from genesys_tui.designer import DesignRequest
from genesys_tui.errors import ConfigError
from tests.agents import scripts as S

NORM = S.SCALED_NORM.replace("ScaledRMSNorm", "RMSNorm")


def _task(uid: str, cls: str, role: str, **extra: object) -> dict:
    return {"id": uid, "class": cls, "role": role, "spec": "a unit that does what it says", **extra}


def test_mutating_a_shared_file_writes_a_new_file_and_protects_the_rest(gpt_parent) -> None:
    # attn_norm and mlp_norm share units/rms_norm.py; rewriting one must not touch the other.
    request = DesignRequest("mutation", (gpt_parent,), 0)
    plan = Assembly(
        {"base": "gpt-1", "write": [_task("mlp_norm", "RMSNorm", "norm")]}, request, "mlp_norm"
    )
    (task,) = plan.tasks
    assert task.file == "units/rms_norm_2.py"
    design = plan.build("gpt-norm", {"mlp_norm": NORM})
    assert design.units["attn_norm"].file == "units/rms_norm.py"
    assert design.sources["units/rms_norm.py"] == gpt_parent.design.sources["units/rms_norm.py"]
    assert design.sources["units/rms_norm_2.py"] == NORM


@pytest.mark.parametrize(
    ("kind", "plan", "error"),
    [
        (
            "mutation",
            {"base": "gpt-1", "write": [_task("attn", "A", "sequence_mixer")]},
            "exactly one unit",
        ),
        (
            "mutation",
            {"base": "gpt-1", "write": [_task("mlp", "M", "norm")]},
            "must keep that role",
        ),
        ("mutation", {"base": "nope", "write": []}, '"base" must be one of the parents'),
        (
            "mutation",
            {"base": "gpt-1", "graft": [{"at": "mlp", "from": "gpt-1", "unit": "mlp"}]},
            "only a crossover",
        ),
        ("crossover", {"base": "gpt-1", "write": []}, "must reuse units of the other parent"),
        (
            "crossover",
            {"base": "gpt-1", "graft": [{"at": "mlp", "from": "retnet-2", "unit": "msr"}]},
            "is a sequence_mixer",
        ),
        (
            "crossover",
            {"base": "gpt-1", "graft": [{"at": "mlp", "from": "ttt-9", "unit": "mlp"}]},
            "not a parent",
        ),
        (
            "mutation",
            {
                "base": "gpt-1",
                "write": [_task("mlp", "M", "channel_mixer", children={"x": "attn"})],
            },
            "cannot be a child here",
        ),
    ],
    ids=[
        "other-unit",
        "role-change",
        "bad-base",
        "graft-in-mutation",
        "crossover-reuses-nothing",
        "graft-role-mismatch",
        "unknown-parent",
        "steals-a-protected-child",
    ],
)
def test_bad_plans_say_what_to_fix(gpt_parent, retnet_parent, kind, plan, error) -> None:
    parents = (gpt_parent, retnet_parent) if kind == "crossover" else (gpt_parent,)
    with pytest.raises(ReplyError, match=error):
        Assembly(plan, DesignRequest(kind, parents, 0), "mlp")


def test_a_graft_takes_the_other_parents_subtree(gpt_parent, retnet_parent) -> None:
    request = DesignRequest("crossover", (gpt_parent, retnet_parent), 0)
    plan = Assembly(
        {"base": "gpt-1", "graft": [{"at": "mlp", "from": "retnet-2", "unit": "ffn"}], "write": []},
        request,
        None,
    )
    design = plan.build("gpt-ffn2", {})
    assert design.units["ffn"].args == {"expand": 2} and "mlp" not in design.units


def test_a_scratch_plan_writes_every_unit(gpt_parent) -> None:
    block = gpt_parent.design.sources["units/pre_norm_block.py"]
    mlp = gpt_parent.design.sources["units/mlp.py"]
    attn = gpt_parent.design.sources["units/causal_self_attention.py"]
    write = [
        _task(
            "block",
            "PreNormBlock",
            "block",
            children={"norm1": "n1", "mixer": "attn", "norm2": "n2", "mlp": "mlp"},
        ),
        _task("n1", "RMSNorm", "norm"),
        _task("n2", "RMSNorm", "norm"),
        _task("attn", "CausalSelfAttention", "sequence_mixer"),
        _task("mlp", "MLP", "channel_mixer"),
    ]
    plan = Assembly({"write": write, "root": "block"}, DesignRequest("scratch", (), 0), None)
    files = {"block": block, "n1": NORM, "n2": NORM, "attn": attn, "mlp": mlp}
    design = plan.build("fresh", files)
    assert design.roots == ("block",) and len(design.units) == 5


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [
        ("anthropic:claude-sonnet-4-6", ModelSpec("anthropic", "claude-sonnet-4-6")),
        ("openai:gpt-4.1", ModelSpec("openai", "gpt-4.1")),
        (
            "openai-compatible:http://localhost:11434/v1#qwen2.5-coder:32b",
            ModelSpec("openai-compatible", "qwen2.5-coder:32b", "http://localhost:11434/v1"),
        ),
    ],
    ids=["anthropic", "openai", "ollama"],
)
def test_designer_specs_parse(spec: str, parsed: ModelSpec) -> None:
    assert ModelSpec.parse(spec) == parsed


@pytest.mark.parametrize(
    "spec",
    ["claude", "google:gemini", "openai-compatible:localhost#m", "openai-compatible:http://x"],
)
def test_bad_designer_specs_say_the_syntax(spec: str) -> None:
    with pytest.raises(ConfigError, match=r"openai-compatible:URL#MODEL|OpenAI-compatible"):
        ModelSpec.parse(spec)


def test_roles_may_use_other_models_from_the_config() -> None:
    cfg = AgentsConfig.from_dict(
        {"roles": {"coder": "openai:gpt-4.1", "observer": "openai:gpt-4.1"}}
    )
    designer = make_llm_designer("anthropic:claude-haiku-4-5", cfg)
    models = {role: (p.provider, p.model) for role, p in designer.agents.items()}
    assert models["proposer"] == ("anthropic", "claude-haiku-4-5")
    assert models["coder"] == models["observer"] == ("openai", "gpt-4.1")
    assert designer.agents["coder"] is designer.agents["observer"]  # one client per spec
    assert designer.name == "claude-haiku-4-5"


def test_a_missing_key_fails_before_any_request(monkeypatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        make_llm_designer("anthropic:claude-haiku-4-5")


@pytest.mark.parametrize(
    ("table", "field"),
    [
        ({"review_threshold": 6}, "review_threshold"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"colour": "red"}, "colour"),
        ({"roles": {"critic": "x"}}, "critic"),
    ],
    ids=["threshold", "attempts", "unknown", "unknown-role"],
)
def test_bad_settings_name_the_field(table: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        AgentsConfig.from_dict(table)


def test_the_settings_file_named_by_the_environment_applies(tmp_path, monkeypatch) -> None:
    settings = tmp_path / "genesys.toml"
    settings.write_text(
        '[agents]\nreview_threshold = 5\n[agents.roles]\ncoder = "openai:gpt-4.1"\n'
    )
    monkeypatch.setenv("GENESYS_CONFIG", str(settings))
    designer = make_llm_designer("anthropic:claude-haiku-4-5")
    assert designer.config.review_threshold == 5
    assert designer.agents["coder"].provider == "openai"
