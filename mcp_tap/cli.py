"""The `mcp-tap` command line: parse arguments, call the library, turn errors into one line."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from rich.console import Console

from mcp_tap.bus import TapBus
from mcp_tap.events import Subscriber
from mcp_tap.recorder import RecordingWriter
from mcp_tap.recording import RecordingError, load_recording
from mcp_tap.redact import RedactionRules
from mcp_tap.run_proxy import ProxyOptions, run_proxy
from mcp_tap.serving import PortInUse
from mcp_tap.show import filter_events
from mcp_tap.view import ViewOptions, build_view

EXIT_BAD_INPUT = 2


class UserError(Exception):
    """Bad input: reported as one line and exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcp-tap",
        description="Record-and-replay inspector for the Model Context Protocol.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    proxy = commands.add_parser("proxy", help="forward to an MCP server and show what crosses")
    proxy.add_argument(
        "--target", help="the MCP server's URL (default: start the bundled demo server)"
    )
    proxy.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    proxy.add_argument("--port", type=int, default=8890, help="listen port; 0 picks a free one")
    _add_recording_options(proxy)
    _add_view_options(proxy)

    show = commands.add_parser("show", help="show a recording as the live proxy would")
    show.add_argument("file", metavar="FILE.yaml", help="a recording written by `mcp-tap proxy`")
    _add_view_options(show)
    return parser


def _add_recording_options(parser: argparse.ArgumentParser) -> None:
    record = parser.add_mutually_exclusive_group()
    record.add_argument(
        "--record",
        metavar="PATH",
        help="write the recording here (default: recordings/<UTC time>-<target host>.yaml)",
    )
    record.add_argument("--no-record", action="store_true", help="do not write a recording")
    parser.add_argument(
        "--redact-header",
        action="append",
        default=[],
        metavar="NAME",
        help="also redact this header's value in the recording (repeatable)",
    )
    parser.add_argument(
        "--redact-field",
        action="append",
        default=[],
        metavar="JSONPATH",
        help="redact this field of every message, e.g. params.arguments.password; "
        "`*` matches any key or index (repeatable)",
    )
    parser.add_argument(
        "--no-redact",
        action="store_true",
        help="keep credential headers and session ids as they were "
        "(--redact-header/--redact-field still apply)",
    )


def _add_view_options(parser: argparse.ArgumentParser) -> None:
    detail = parser.add_mutually_exclusive_group()
    detail.add_argument(
        "-v", "--verbose", action="store_true", help="also print every message as JSON"
    )
    detail.add_argument(
        "-q", "--quiet", action="store_true", help="only progress, findings and faults"
    )
    parser.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="METHOD_GLOB",
        help="only messages whose method matches (fnmatch), with their responses and "
        "progress; repeatable",
    )
    parser.add_argument(
        "--jsonl", action="store_true", help="one JSON object per event on stdout, no view"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `mcp-tap` console script."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "proxy":
            return _proxy(args)
        if args.command == "show":
            return _show(args)
    except (UserError, PortInUse, ValueError, RecordingError) as error:
        print(f"mcp-tap: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    return EXIT_BAD_INPUT


def _proxy(args: argparse.Namespace) -> int:
    options = ProxyOptions(target=args.target, host=args.host, port=args.port)
    bus = TapBus()
    subscribers = _view_subscribers(args, bus)
    info = sys.stderr if args.jsonl else sys.stdout  # keep a JSON-lines stdout pure
    recorder = _recorder(args)
    if recorder is not None:
        subscribers.append(recorder)
        print(f"mcp-tap: recording to {recorder.path}", file=info, flush=True)
    for subscriber in subscribers:
        bus.subscribe(subscriber)
    try:
        asyncio.run(run_proxy(options, bus, out=info))
    finally:
        bus.close()
        if recorder is not None and recorder.error is not None:
            print(f"mcp-tap: the recording stopped early: {recorder.error}", file=sys.stderr)
    return 0


def _view_subscribers(
    args: argparse.Namespace, bus: TapBus, *, recorded: bool = False
) -> list[Subscriber]:
    """What shows events to the user, live or from a recording: the one place to change it.

    The progress tracker (publishing its findings on `bus`) and then the view, in that
    order. `recorded`: the events come from a recording that already holds its findings.
    """
    options = ViewOptions(
        verbose=getattr(args, "verbose", False),
        quiet=getattr(args, "quiet", False),
        filters=tuple(getattr(args, "filter", None) or ()),
    )
    jsonl = getattr(args, "jsonl", False)
    return build_view(
        bus.publish,
        options,
        jsonl=sys.stdout if jsonl else None,
        summary_console=Console(stderr=True) if jsonl else None,
        emit_findings=not recorded,
    )


def _recorder(args: argparse.Namespace) -> RecordingWriter | None:
    """The recording subscriber `mcp-tap proxy` was asked for, or None with --no-record."""
    if args.no_record:
        return None
    rules = RedactionRules.from_options(
        enabled=not args.no_redact, headers=args.redact_header, fields=args.redact_field
    )
    try:
        return RecordingWriter(args.record, args.target, rules)
    except FileExistsError:
        raise UserError(f"{args.record} already exists; choose another --record path") from None
    except OSError as error:
        raise UserError(f"cannot create the recording: {error}") from None


def _show(args: argparse.Namespace) -> int:
    recording = load_recording(args.file)
    for warning in recording.warnings:
        print(f"mcp-tap: warning: {warning}", file=sys.stderr)
    bus = TapBus()
    for subscriber in _view_subscribers(args, bus, recorded=True):
        bus.subscribe(subscriber)
    try:
        for event in filter_events(recording.events, args.filter):
            bus.publish(event)  # no event loop here: delivered at once, in order
    finally:
        bus.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
