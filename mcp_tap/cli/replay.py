"""`mcp-tap replay`: re-send a recording's client side to a server and judge what comes back.

Exit 0 when every call matches, 1 when something diverged (`replay.run.exit_code`).

Without --target or --command the server is chosen by the recording's header
(`analysis.origin`): a stdio recording is replayed against its recorded command, said so on
stderr (a command the recording redacted cannot be run: exit 2, asking for --command); a
recording of the bundled demo server (a proxy's `target: demo`, or a stdio command running
`demo_server`), and any other HTTP recording, against a fresh bundled demo server.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mcp_tap.analysis.origin import is_demo, is_redacted, is_stdio, recorded_command
from mcp_tap.cli.common import (
    UserError,
    check_record_path,
    checked_target,
    environment_names,
    name_values,
    report_verdicts,
    run_async,
    warn,
    write_output,
)
from mcp_tap.cli.options import (
    RECORDING_FILE,
    Commands,
    add_command,
    add_otlp_options,
    add_pace,
    add_record_path,
    add_view_options,
    check_otlp_options,
)
from mcp_tap.cli.subscribers import open_recorder, otlp_subscriber, view_subscribers
from mcp_tap.protocol.redaction import RedactionRules
from mcp_tap.recording.reader import Recording, open_recording
from mcp_tap.recording.writer import StdioOrigin
from mcp_tap.replay.junit import write_junit
from mcp_tap.replay.marks import divergence_findings
from mcp_tap.replay.run import ReplayOptions, exit_code, replay
from mcp_tap.replay.verdicts import DEFAULT_MAX_DIFFS
from mcp_tap.stdio.command import split_command_line
from mcp_tap.tap.bus import TapBus
from mcp_tap.view.visible import visible


def register(commands: Commands) -> None:
    """Add `mcp-tap replay` and its flags."""
    parser = add_command(
        commands,
        "replay",
        run,
        "re-send a recording to a server and compare what comes back",
        "Re-send the client side of a recording, compare each result and progress stream, "
        "exit 0 when everything matches, 1 when something diverged, 2 for bad input. HTTP "
        "and stdio recordings replay over either carrier: the messages are the same. By "
        "default a stdio recording is replayed against its recorded command, a recording of "
        "the demo server or of an HTTP server against a fresh bundled demo server.",
        "replay recordings/download_file-handshake.yaml",
        "replay session.yaml --target http://127.0.0.1:8000/mcp --fast --junit report.xml",
        'replay stdio-session.yaml --command "python -m demo_server --stdio"',
        "replay session.yaml --ignore result.content.0.text --header Authorization='Bearer t'",
    )
    parser.add_argument("file", metavar="FILE.yaml", help=RECORDING_FILE)
    server = parser.add_mutually_exclusive_group()
    server.add_argument(
        "--target",
        help="the server's URL (default: a stdio recording's own command; otherwise a fresh "
        "bundled demo server)",
    )
    server.add_argument(
        "--command",
        dest="server_command",
        metavar="COMMAND",
        help="start this stdio server (split as a shell would) and replay over its "
        "stdin and stdout",
    )
    add_pace(parser, "send each message as soon as causality allows")
    parser.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="JSONPATH",
        help="also ignore this field of results, e.g. result.content.0.text (repeatable)",
    )
    parser.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="the value of a header the recording redacted (or set $MCP_TAP_HEADER_<NAME>)",
    )
    parser.add_argument(
        "--progress-tolerance",
        type=int,
        default=0,
        metavar="N",
        help="accept this many more or fewer progress notifications per request (default 0)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long to wait for a response before calling it missing (default 30)",
    )
    parser.add_argument(
        "--max-diffs",
        type=int,
        default=DEFAULT_MAX_DIFFS,
        metavar="N",
        help="print (and keep) the first N divergent requests, count the rest "
        f"(default {DEFAULT_MAX_DIFFS}; --junit and --report keep every one)",
    )
    parser.add_argument("--junit", metavar="FILE", help="write a JUnit XML report here")
    parser.add_argument(
        "--report",
        metavar="FILE",
        help="write the recording's HTML report here, each divergence marked on its request",
    )
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="the verdict as text for people, or JSON on stdout for machines (default text)",
    )
    add_record_path(parser, "record the replay itself here")
    add_otlp_options(parser)
    add_view_options(parser)


def run(args: argparse.Namespace) -> int:
    """Replay, print the verdicts, write the reports asked for; the replay's exit code."""
    recording = open_recording(args.file)  # read as the plan is built, never held whole
    stdio = is_stdio(recording.header)
    headers = name_values(args.header, "--header")
    command = split_command_line(args.server_command) if args.server_command is not None else None
    if command is None and args.target is None:
        command = default_command(args.file, recording.header)
    options = ReplayOptions(
        target=checked_target(args.target, "--target"),
        command=command,
        speed=None if args.fast else args.speed,
        ignore=args.ignore,
        headers=headers,
        progress_tolerance=args.progress_tolerance,
        timeout=args.timeout,
        # the JUnit file and the page list every request: they keep every verdict
        max_diffs=None if args.junit or args.report else args.max_diffs,
    )
    if options.speed is not None and options.speed <= 0:
        raise UserError("--speed must be above 0")
    if args.max_diffs < 0:
        raise UserError(f"--max-diffs must be 0 or more, got {args.max_diffs}")
    check_record_path(args)
    check_otlp_options(args)
    bus = TapBus()

    def start_session() -> None:
        # Only once the target answers: a start-up error shows no summary, writes no file.
        if args.record:
            rules = RedactionRules.from_options()
            origin = StdioOrigin(options.command, environment_names()) if options.command else None
            bus.subscribe(open_recorder(args.record, args.target, rules, args.force, origin))
        for subscriber in view_subscribers(args, bus):
            bus.subscribe(subscriber)
        traces = otlp_subscriber(args, bus, args.target or "demo")
        if traces is not None:
            bus.subscribe(traces)

    try:
        verdicts, seconds = run_async(replay(recording, options, bus, start_session, stdio))
    finally:
        bus.close()
    warn(recording)
    report_verdicts(args, verdicts)
    if args.junit:
        write_junit(Path(args.junit), Path(args.file).stem, verdicts, seconds)
    if args.report:
        from mcp_tap.export.report import render_report  # only a report pays for its import

        # The recording's page, each divergence marked on its request as a finding.
        events = sorted([*recording, *divergence_findings(verdicts)], key=lambda e: e.time)
        marked = Recording(recording.header, events, list(recording.warnings))
        write_output(args.report, render_report(marked))
    return exit_code(verdicts)


def default_command(path: str, header: Mapping[str, Any]) -> list[str] | None:
    """The server a recording is replayed against when no flag names one: a stdio
    recording's own command (said so on stderr), or None for the bundled demo server."""
    if not is_stdio(header) or is_demo(header):
        return None
    command = recorded_command(header)
    if command is None:
        raise UserError(f"{path} names no command to replay against: give --command or --target")
    shown = shlex.join(command)
    if is_redacted(command):
        raise UserError(
            f"the recorded command was redacted ({shown}) and cannot be run: give --command"
        )
    print(f"replaying against the recorded command: {visible(shown)}", file=sys.stderr)
    return command
