"""`--fault RULE`, `--faults FILE.yaml` and `--seed`: the flags of fault injection, shared by
`proxy`, `stdio` and `serve`, and the `FaultPlan` they make (the rules are `mcp_tap.faults`)."""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from mcp_tap.cli.common import UserError
from mcp_tap.faults import FaultPlan, RuleError, parse_rule, rules_from_data
from mcp_tap.faults.rules import Rule

RULE_HELP = (
    "break the traffic on purpose: ACTION [key=value...], e.g. "
    "'error tool=echo code=-32001', 'status 429 retry-after=1 times=1', "
    "'drop-stream after-progress=2 times=1', 'delay 500ms' (repeatable; see the README)"
)


def add_fault_options(parser: argparse.ArgumentParser) -> None:
    """The fault flags on one command."""
    group = parser.add_argument_group("fault injection")
    group.add_argument("--fault", action="append", default=[], metavar="RULE", help=RULE_HELP)
    group.add_argument(
        "--faults", metavar="FILE.yaml", help="read fault rules from a YAML list of rules"
    )
    group.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed the draws of rules with a probability, to repeat a run (default: random)",
    )


def fault_plan(args: argparse.Namespace, carrier: str) -> FaultPlan | None:
    """The rules the flags give, checked; None when there are none. Bad ones: UserError."""
    try:
        rules: list[Rule] = [parse_rule(text) for text in args.fault]
        if args.faults is not None:
            rules += rules_from_data(_read_yaml(args.faults), args.faults)
        return FaultPlan(rules, args.seed, carrier) if rules else None
    except RuleError as error:
        raise UserError(str(error)) from None


def _read_yaml(path: str) -> object:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"--faults {path}: cannot read it: {error}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise UserError(f"--faults {path}: not YAML{line}") from None
