"""The ``genesys`` command line: help, version, library, show, bench, and its exit codes."""

from __future__ import annotations

import argparse
import json

import pytest

from genesys_tui import __version__
from genesys_tui.cli import main


def test_no_arguments_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    assert "usage: genesys" in capsys.readouterr().out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert __version__ in capsys.readouterr().out


def subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every command and subcommand parser under ``parser``, depth first."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                found += [child, *subparsers(child)]
    return found


def test_no_subcommand_option_is_read_as_one_of_the_top_levels(capsys) -> None:
    """argparse reads every --option on the line against the top-level parser too: were it to
    take abbreviations, a subcommand's option that begins one of its own (``study compare
    --design`` and ``--designer``) would be refused or taken as that option."""
    from genesys_tui.cli import build_parser

    root = build_parser()
    own = {o for a in root._actions for o in a.option_strings}
    options = {o for p in subparsers(root) for a in p._actions for o in a.option_strings
               if o.startswith("--") and o not in own}  # fmt: skip
    assert "--design" in options and len(options) > 50
    for option in sorted(options):
        _, rest = root.parse_known_args([option])
        assert rest == [option], option


def test_a_commands_option_is_its_own_not_the_dashboards() -> None:
    """The dashboard's --namespace and a command's --namespace are two options: neither
    overwrites the other, whichever comes last."""
    from genesys_tui.cli import build_parser

    args = build_parser().parse_args(["stats", "--namespace", "run1"])
    assert (args.namespace, args.dashboard_namespace) == ("run1", None)
    args = build_parser().parse_args(["evolve", "--designer", "learning"])
    assert (args.designer, args.dashboard_designer) == ("learning", None)


def test_a_dashboard_option_before_a_command_is_refused(capsys) -> None:
    """``genesys --namespace NS stats`` used to drop --namespace silently and then ask which
    namespace was meant; now it says where the option goes."""
    with pytest.raises(SystemExit) as exit_:
        main(["--namespace", "run1", "stats"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "--namespace before a command is the dashboard's" in err
    assert "genesys stats --namespace" in err


def test_every_command_prints_its_help() -> None:
    """``genesys CMD --help`` for every command and subcommand: argparse formats help only when
    asked, so an option it cannot format (a positional with a tuple metavar) fails only then."""
    from genesys_tui.cli import build_parser

    root = build_parser()
    parsers = [root, *subparsers(root)]
    assert len(parsers) > 20
    for parser in parsers:
        assert parser.format_help().startswith("usage: "), parser.prog


def test_library_lists_gpt_with_parameter_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["library", "--json", "--d-model", "64", "--n-layers", "2"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    gpt = next(r for r in rows if r["name"] == "gpt")
    assert gpt["non_embedding_params"] == 2 * (12 * 64 * 64 + 2 * 64) + 64
    assert gpt["vs_gpt"] == 1.0
    assert "sequence_mixer" in gpt["roles"]


def test_show_prints_the_unit_tree(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "gpt"]) == 0
    out = capsys.readouterr().out
    assert "mixer: attn = CausalSelfAttention (sequence_mixer)" in out
    assert "n_heads=4" in out


def test_unknown_design_exits_2_with_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "no-such-design"]) == 2
    assert "no such design directory" in capsys.readouterr().err


def test_bench_vs_plain_prints_a_ratio(capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "bench",
        "gpt",
        "--vs-plain",
        "--json",
        "--d-model",
        "32",
        "--n-layers",
        "1",
        "--context",
        "16",
        "--batch",
        "2",
        "--steps",
        "1",
        "--rounds",
        "1",
    ]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["tokens_per_second"]) == {"gpt", "plain"}
    assert out["ratio_vs_plain"] > 0


def test_lm_eval_picks_the_device_like_the_rest_of_genesys(monkeypatch) -> None:
    import torch

    from genesys_tui.cli.lm_eval import prepare

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert prepare(["run", "--model", "genesys"])[-2:] == ["--device", "cpu"]
    assert prepare(["run", "--model", "genesys", "--device", "cuda:1"]).count("--device") == 1
    assert prepare(["ls", "tasks"]) == ["ls", "tasks"]  # not an evaluation: nothing added
