"""`mcp-tap diff A.yaml B.yaml`: what changed from one recording to another.

The differences are found in `analysis.recording_diff` and written by `export.diff_report`.
Exit codes: 0 (whatever the differences, without --fail-on), 1 when --fail-on trips, 2 on
bad input (a missing or corrupt recording, a malformed flag).
"""

from __future__ import annotations

import argparse
import math

from mcp_tap.analysis.behaviour_diff import DEFAULT_FACTOR, DEFAULT_FLOOR, LatencyLimits
from mcp_tap.analysis.recording_diff import FAIL_ON, DiffOptions, diff_recordings
from mcp_tap.cli.common import UserError, warn, write_output
from mcp_tap.cli.options import Commands, add_command
from mcp_tap.export.diff_report import json_report, markdown_report, text_report
from mcp_tap.recording.reader import open_recording

FORMATS = ("text", "json", "markdown")


def register(commands: Commands) -> None:
    """Add `mcp-tap diff` and its flags."""
    diff = add_command(
        commands,
        "diff",
        run,
        "what changed between two recordings: interface, behaviour, latency",
        "Compare two recordings of a server: its info and capabilities; the tools, prompts, "
        "resources and templates it lists (schemas classed breaking or compatible, "
        "annotations, descriptions as a word diff, hidden text flagged suspicious); the "
        "results, errors and progress of the calls both made (matched as `serve` matches "
        "them); and latency regressions.",
        "diff before.yaml after.yaml",
        "diff before.yaml after.yaml --format markdown -o diff.md --fail-on breaking",
        "diff a.yaml b.yaml --ignore 'server.serverInfo.version' --ignore result.content",
    )
    diff.add_argument("before", metavar="A", help="the earlier recording")
    diff.add_argument("after", metavar="B", help="the later recording")
    diff.add_argument("--format", choices=FORMATS, default="text", help="default: text")
    diff.add_argument("-o", "--output", metavar="FILE", help="write the report here (- stdout)")
    diff.add_argument(
        "--fail-on",
        choices=FAIL_ON,
        help="exit 1 on a breaking (or suspicious) difference, or on any; without it the exit "
        "code is 0",
    )
    diff.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="PATH",
        help="never report this path or what is under it (as the report names them: "
        "'tools[name=add].description', 'result.content', '*' for any part; repeatable)",
    )
    diff.add_argument(
        "--latency-factor",
        type=float,
        default=DEFAULT_FACTOR,
        metavar="X",
        help="a median latency this many times the first's is a regression "
        f"(default {DEFAULT_FACTOR:g}), when also --latency-floor slower",
    )
    diff.add_argument(
        "--latency-floor",
        type=float,
        default=DEFAULT_FLOOR,
        metavar="SECONDS",
        help=f"and at least this much slower (default {DEFAULT_FLOOR:g})",
    )


def run(args: argparse.Namespace) -> int:
    """Diff the two recordings; the report, and 1 when --fail-on trips."""
    factor, floor = args.latency_factor, args.latency_floor
    if not (math.isfinite(factor) and factor >= 1 and math.isfinite(floor) and floor >= 0):
        raise UserError("--latency-factor must be at least 1 and --latency-floor not negative")
    options = DiffOptions(tuple(args.ignore), LatencyLimits(factor, floor))
    before = open_recording(args.before)  # read in passes, never held whole
    after = open_recording(args.after)
    diff = diff_recordings(before, after, options)
    warn(before)
    warn(after)
    if args.format == "json":
        report = json_report(diff, args.before, args.after)
    elif args.format == "markdown":
        report = markdown_report(diff, args.before, args.after)
    else:
        report = text_report(diff, args.before, args.after)
    write_output(args.output, report)
    return 1 if diff.fails(args.fail_on) else 0
