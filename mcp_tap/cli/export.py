"""`mcp-tap export`: a recording as HAR, JSON lines or OTLP traces, for other tools."""

from __future__ import annotations

import argparse

from mcp_tap.analysis.origin import is_stdio
from mcp_tap.cli.common import UserError, warn, write_output
from mcp_tap.cli.options import RECORDING_FILE, Commands, add_command
from mcp_tap.recording.reader import open_recording

EXPORT_FORMATS = ("har", "jsonl", "otlp")


def register(commands: Commands) -> None:
    """Add `mcp-tap export` and its flags."""
    export = add_command(
        commands,
        "export",
        run,
        "write a recording as HAR, JSON lines or OpenTelemetry traces",
        "Write a recording for other tools: a browser's network panel (HAR 1.2), pipes "
        "(JSON lines, as --jsonl) or a tracing backend (OTLP/JSON traces).",
        "export session.yaml --format har -o session.har",
        "export session.yaml --format otlp -o traces.json",
        "export session.yaml --format jsonl | jq .",
    )
    export.add_argument("file", metavar="FILE.yaml", help=RECORDING_FILE)
    export.add_argument(
        "--format",
        default="har",
        metavar="|".join(EXPORT_FORMATS),
        help="har (HTTP Archive 1.2), jsonl (one event a line, as --jsonl) or otlp "
        "(OpenTelemetry traces, OTLP/JSON); default har",
    )
    export.add_argument(
        "-o", "--output", metavar="FILE", help="where to write it (default: standard output)"
    )


def run(args: argparse.Namespace) -> int:
    """Write the recording in the format asked for."""
    if args.format not in EXPORT_FORMATS:
        raise UserError(
            f"unknown --format {args.format!r}; choose one of {', '.join(EXPORT_FORMATS)}"
        )
    from mcp_tap.export.formats import export_chunks

    recording = open_recording(args.file)
    if args.format == "har" and is_stdio(recording.header):
        raise UserError(
            "HAR holds HTTP exchanges; a stdio recording has none: use --format jsonl or otlp"
        )
    write_output(args.output, export_chunks(recording, args.format))  # written as it is read
    warn(recording)
    return 0
