"""`mcp-tap check REC...`: every rule over recordings, for CI: exit 1 when one is broken.

The rules run in `analysis.check_run`; the formats are written by `export.check_report`.
Exit codes: 0 clean, 1 findings at --fail-on or worse, 2 bad input (a missing or corrupt
recording, an unknown rule, a malformed flag).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from mcp_tap.analysis.check_run import CheckOptions, check_events
from mcp_tap.analysis.rules import RULES
from mcp_tap.cli.common import UserError, warn, write_output
from mcp_tap.cli.options import Commands, add_command, add_pins_option, pins_from
from mcp_tap.export.check_report import (
    CheckedFile,
    event_lines,
    failing,
    json_report,
    junit_report,
    rule_table,
    sarif_report,
    text_report,
)
from mcp_tap.protocol.events import Severity
from mcp_tap.recording.reader import open_recording
from mcp_tap.recording.writer import mcp_tap_version

FORMATS = ("text", "json", "junit", "sarif")


def register(commands: Commands) -> None:
    """Add `mcp-tap check` and its flags."""
    check = add_command(
        commands,
        "check",
        run,
        "judge recordings by every rule, for CI",
        "Run every rule (the schema of each session's revision, each tool's own schemas, "
        "progress, wire and OAuth checks) over recordings; exit 1 when a finding reaches "
        "--fail-on, 2 on bad input.",
        "check recordings/*.yaml",
        "check session.yaml --fail-on warning --format sarif -o mcp-tap.sarif",
        "check session.yaml --expect-tool download_file --max-duration 'tools/call=5'",
        "check --list-rules",
    )
    check.add_argument("files", nargs="*", metavar="REC", help="recordings to check")
    check.add_argument(
        "--fail-on",
        choices=("error", "warning"),
        default="error",
        help="exit 1 when a finding of this severity or worse is seen (default: error)",
    )
    check.add_argument("--format", choices=FORMATS, default="text", help="default: text")
    check.add_argument("-o", "--output", metavar="FILE", help="write the report here (- stdout)")
    rules = check.add_argument_group("rules (names from --list-rules; each repeatable)")
    rules.add_argument("--rule", action="append", default=[], metavar="NAME", help="only these")
    rules.add_argument(
        "--skip-rule", action="append", default=[], metavar="NAME", help="never these"
    )
    rules.add_argument("--list-rules", action="store_true", help="print every rule and exit")
    pins = check.add_argument_group("what the traffic must hold (each repeatable)")
    pins.add_argument(
        "--expect-tool", action="append", default=[], metavar="NAME", help="a tool (glob) called"
    )
    pins.add_argument(
        "--forbid-tool", action="append", default=[], metavar="NAME", help="a tool never called"
    )
    add_pins_option(pins)
    pins.add_argument(
        "--max-duration",
        action="append",
        default=[],
        metavar="METHOD=SECONDS",
        help="the longest a request of METHOD (a glob) may take to be answered",
    )


def max_durations(items: list[str]) -> dict[str, float]:
    """--max-duration METHOD=SECONDS flags as a dict."""
    limits = {}
    for item in items:
        method, equals, seconds = item.rpartition("=")
        try:
            limit = float(seconds)
        except ValueError:
            limit = math.nan
        if not equals or not method or not math.isfinite(limit) or limit < 0:
            raise UserError(f"--max-duration wants METHOD=SECONDS, got {item!r}")
        limits[method] = limit
    return limits


def run(args: argparse.Namespace) -> int:
    """Check each recording; the report, and 1 when the gate trips."""
    if args.list_rules:
        write_output(None, rule_table())
        return 0
    if not args.files:
        raise UserError("check needs at least one recording (or --list-rules)")
    options = CheckOptions(
        rules=frozenset(args.rule),
        skip=frozenset(args.skip_rule),
        expect_tools=tuple(args.expect_tool),
        forbid_tools=tuple(args.forbid_tool),
        max_durations=max_durations(args.max_duration),
        pins=pins_from(args),
    )  # an unknown rule name is a ValueError: one line, exit 2
    checked = []
    for path in args.files:
        recording = open_recording(path)  # judged as it streams, in one pass
        judged = check_events(recording, options)
        warn(recording)
        wanted = {index for index, _ in judged.findings}
        try:  # a second pass over the file's lines, for the lines findings point at
            with Path(path).open(encoding="utf-8") as rows:
                lines = event_lines(rows, wanted)
        except (OSError, UnicodeDecodeError):
            lines = {}
        checked.append(CheckedFile(path, judged, lines))
    threshold = Severity(args.fail_on)
    if args.format == "json":
        report = json_report(checked, threshold)
    elif args.format == "junit":
        names = [rule.slug for rule in RULES if options.wants(rule.slug)]
        report = junit_report(checked, threshold, names)
    elif args.format == "sarif":
        report = sarif_report(checked, mcp_tap_version())
    else:
        report = text_report(checked, threshold)
    write_output(args.output, report)
    return 1 if failing(checked, threshold) else 0
