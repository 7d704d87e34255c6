"""`mcp-tap report`: a recording as one self-contained HTML page."""

from __future__ import annotations

import argparse

from mcp_tap.cli.common import loaded_recording, write_output
from mcp_tap.cli.options import RECORDING_FILE, Commands, add_command


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


def run(args: argparse.Namespace) -> int:
    """Write the recording's HTML page."""
    from mcp_tap.export.report import render_report

    write_output(args.output, render_report(loaded_recording(args.file)))
    return 0
