"""`mcp-tap report`: a recording as one self-contained HTML page."""

from __future__ import annotations

import argparse

from mcp_tap.cli.common import UserError, warn, write_output
from mcp_tap.cli.options import RECORDING_FILE, Commands, add_command
from mcp_tap.recording.reader import open_recording

REPORT_LIMITS = (  # the page lists this much of a recording and counts the rest
    ("--max-rows", 5000, "messages, calls and findings listed on the page (default 5000)"),
    ("--max-charts", 100, "progress charts drawn (default 100)"),
    ("--max-points", 1000, "points per progress chart before it is thinned (default 1000)"),
)


def register(commands: Commands) -> None:
    """Add `mcp-tap report` and its flags."""
    report = add_command(
        commands,
        "report",
        run,
        "write a recording as one self-contained HTML page with charts",
        "One HTML file, no network: session facts, a timeline, a progress chart per token, "
        "findings and a filterable table of messages.",
        "report session.yaml -o report.html",
    )
    report.add_argument("file", metavar="FILE.yaml", help=RECORDING_FILE)
    report.add_argument(
        "-o", "--output", metavar="FILE", help="where to write the page (default: standard output)"
    )
    for flag, default, what in REPORT_LIMITS:
        report.add_argument(flag, type=int, default=default, metavar="N", help=what)


def run(args: argparse.Namespace) -> int:
    """Write the recording's HTML page."""
    from mcp_tap.export.report import render_report
    from mcp_tap.export.report_data import ReportLimits

    limits = ReportLimits(args.max_rows, args.max_charts, args.max_points)
    if min(vars(limits).values()) < 1:
        raise UserError("--max-rows, --max-charts and --max-points must be at least 1")
    recording = open_recording(args.file)
    page = render_report(recording, limits)
    warn(recording)
    write_output(args.output, page)
    return 0
