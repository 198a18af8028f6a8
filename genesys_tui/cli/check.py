"""``genesys check DESIGN``: run the symbolic checker and print its report.

Exit status: 0 the design passes (warnings allowed), 1 it is rejected, 2 a usage or I/O error
(no design at that path, an unknown rung, a bad settings file).
"""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="check a design: static rules, sandboxed runtime checks",
                       description="Check a design before any training: static rules on the "
                       "unit files, then build, causality, gradients, numerics, parameter "
                       "budget, speed and memory in a sandboxed child process.")  # fmt: skip
    p.add_argument("design", help="a design directory or the name of a library design")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.add_argument(
        "--no-sandbox", action="store_true",
        help="run the design's code without the bubblewrap sandbox (not recommended)",
    )  # fmt: skip
    p.add_argument(
        "--rung",
        metavar="R",
        help="size the parameter budget for this ladder rung (e.g. cpu-s, 14M)",
    )
    p.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="also print the wall time of each stage and the figures measured",
    )
    p.add_argument(
        "--config",
        metavar="FILE",
        help="a TOML settings file whose [check] table overrides the defaults",
    )
    p.add_argument(
        "--timeout",
        type=float,
        metavar="S",
        help="wall seconds allowed for the runtime checks (default 60)",
    )
    p.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="STAGE",
        help="skip a runtime stage (repeatable), e.g. --skip speed on a busy machine",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from genesys_tui.checker import CheckConfig, check_design

    config = CheckConfig.from_toml(args.config) if args.config else CheckConfig()
    overrides: dict[str, object] = {}
    if args.timeout is not None:
        overrides["timeout_s"] = args.timeout
    if args.skip:
        overrides["skip"] = tuple(dict.fromkeys((*config.skip, *args.skip)))
    if overrides:
        config = CheckConfig.from_dict({**config.to_dict(), **overrides})
        config = dataclasses.replace(config)
    _choose_wall(args)
    report = check_design(args.design, rung=args.rung, config=config)
    if args.json:
        print(report.to_json())
    else:
        print(report.format_text(verbose=args.verbose))
    sys.stdout.flush()
    return 0 if report.ok else 1


def _choose_wall(args: argparse.Namespace) -> None:
    """--no-sandbox runs the checks unwalled; so does a library design where no sandbox can be
    made (it is the project's own code); anything else needs the wall."""
    from pathlib import Path

    from genesys_tui import wall
    from genesys_tui.resources import is_library_design

    if args.no_sandbox:
        wall.configure(sandbox=False)
        print("genesys: UNSANDBOXED: the design's code runs without the bubblewrap wall",
              file=sys.stderr)  # fmt: skip
        return
    # (a path that does not exist goes on to the checker's own error, not the sandbox's)
    own = is_library_design(args.design) or not Path(args.design).exists()
    if own and wall.probe() is not None:
        wall.configure(sandbox=False)
