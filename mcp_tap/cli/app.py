"""The `mcp-tap` command line: parse arguments, call the library, turn errors into one line."""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console

from mcp_tap.analysis.select import filter_events
from mcp_tap.cli.proxy import ProxyOptions, run_proxy
from mcp_tap.http.guard import is_loopback
from mcp_tap.http.limits import DEFAULT_LIMITS, Limits
from mcp_tap.http.serving import PortInUse
from mcp_tap.protocol.events import Subscriber
from mcp_tap.recording.reader import RecordingError, load_recording
from mcp_tap.recording.redact import RedactionRules
from mcp_tap.recording.writer import RecordingWriter
from mcp_tap.replay.compare import CallVerdict
from mcp_tap.replay.junit import write_junit
from mcp_tap.replay.replayer import ReplayError
from mcp_tap.replay.report import print_verdicts
from mcp_tap.replay.run import ReplayOptions, exit_code, replay
from mcp_tap.serve.matching import MatchRules
from mcp_tap.serve.run import load_recordings
from mcp_tap.tap.bus import TapBus
from mcp_tap.view.console import ViewOptions, build_view

EXIT_BAD_INPUT = 2
T = TypeVar("T")


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
    proxy.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also accept this Host/Origin name (DNS rebinding protection; repeatable)",
    )
    _add_limit_options(proxy)
    _add_recording_options(proxy)
    _add_view_options(proxy)

    show = commands.add_parser("show", help="show a recording as the live proxy would")
    show.add_argument("file", metavar="FILE.yaml", help="a recording written by `mcp-tap proxy`")
    _add_view_options(show)
    replay = commands.add_parser(
        "replay", help="re-send a recording to a server and compare what comes back"
    )
    replay.add_argument("file", metavar="FILE.yaml", help="a recording written by `mcp-tap proxy`")
    replay.add_argument(
        "--target", help="the server's URL (default: start a fresh bundled demo server)"
    )
    pace = replay.add_mutually_exclusive_group()
    pace.add_argument(
        "--speed", type=float, default=1.0, help="scale the recorded gaps (2 = twice as fast)"
    )
    pace.add_argument(
        "--fast", action="store_true", help="send each message as soon as causality allows"
    )
    replay.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="JSONPATH",
        help="also ignore this field of results, e.g. result.content.0.text (repeatable)",
    )
    replay.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="the value of a header the recording redacted (or set $MCP_TAP_HEADER_<NAME>)",
    )
    replay.add_argument(
        "--progress-tolerance",
        type=int,
        default=0,
        metavar="N",
        help="accept this many more or fewer progress notifications per request (default 0)",
    )
    replay.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long to wait for a response before calling it missing (default 30)",
    )
    replay.add_argument("--junit", metavar="FILE", help="write a JUnit XML report here")
    replay.add_argument("--record", metavar="PATH", help="record the replay itself here")
    _add_view_options(replay)

    serve = commands.add_parser(
        "serve", help="answer MCP clients from recordings, as the recorded server did"
    )
    serve.add_argument(
        "files", nargs="+", metavar="RECORDING", help="recordings written by `mcp-tap proxy`"
    )
    serve.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="listen port; 0 picks a free one")
    serve_pace = serve.add_mutually_exclusive_group()
    serve_pace.add_argument(
        "--speed", type=float, default=1.0, help="scale the recorded gaps (2 = twice as fast)"
    )
    serve_pace.add_argument(
        "--fast", action="store_true", help="send every recorded message at once"
    )
    serve.add_argument(
        "--match",
        action="append",
        default=[],
        metavar="RULE",
        help="ignore:PATH (also ignore this request field, e.g. ignore:params.arguments.seed), "
        "with-meta (compare params._meta too, bar tokens and trace context), method-only "
        "(match by method and tool name alone); repeatable",
    )
    serve.add_argument(
        "--repeat",
        choices=("last", "cycle", "once"),
        default="last",
        help="when identical requests outnumber their recorded answers: repeat the last "
        "(default), start over, or miss",
    )
    serve.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 if a request missed or a recorded interaction was never used",
    )
    serve.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also accept this Host/Origin name (DNS rebinding protection; repeatable)",
    )
    serve.add_argument("--record", metavar="PATH", help="record the mock's own session here")
    _add_limit_options(serve, skip=UPSTREAM_LIMITS)
    _add_view_options(serve)

    demo = commands.add_parser(
        "demo", help="demo server + proxy + scripted clients, then a replay of the recording"
    )
    demo.add_argument("--record", metavar="PATH", help="where to write the demo's recording")
    _add_view_options(demo)

    return parser


# Limits field -> (unit, what it bounds); the flag is the field's name, `--max-body` for
# max_body. Each is a line of the README's fault table.
_LIMIT_HELP = {
    "max_body": ("BYTES", "answer larger request bodies with 413"),
    "max_header_bytes": ("BYTES", "answer longer request heads with 431"),
    "header_timeout": ("SECONDS", "answer 408 when a request's headers take longer"),
    "body_timeout": ("SECONDS", "answer 408 when a request's body takes longer"),
    "max_connections": ("N", "answer client connections past N with 503"),
    "keep_alive_timeout": ("SECONDS", "close client connections idle this long"),
    "idle_timeout": ("SECONDS", "end an exchange whose upstream is silent this long"),
    "upstream_keep_alive": ("SECONDS", "reuse an idle upstream connection this long"),
    "max_inspect": ("BYTES", "inspect messages up to this size; longer ones pass, recorded cut"),
}


def _limit_flag(field: str) -> str:
    return "--" + field.replace("_", "-")


UPSTREAM_LIMITS = frozenset({"idle_timeout", "upstream_keep_alive"})  # meaningless to a mock


def _add_limit_options(parser: argparse.ArgumentParser, skip: frozenset[str] = frozenset()) -> None:
    group = parser.add_argument_group("limits")
    for field, (unit, what) in _LIMIT_HELP.items():
        if field in skip:
            continue
        default = getattr(DEFAULT_LIMITS, field)
        group.add_argument(
            _limit_flag(field),
            type=type(default),
            default=default,
            metavar=unit,
            help=f"{what} (default {default})",
        )


def _limits(args: argparse.Namespace) -> Limits:
    values = {field: getattr(args, field, getattr(DEFAULT_LIMITS, field)) for field in _LIMIT_HELP}
    for field, value in values.items():
        if value <= 0:
            raise UserError(f"{_limit_flag(field)} must be positive, got {value:g}")
    return Limits(**values)


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


# Every message parsed allocates dozens of dicts and lists, so at CPython's default
# threshold (700) the cyclic collector ran every few requests and took ~40% of the proxy's
# CPU per tools/list. Reference counting frees these payloads; the collector only has cycles
# to find, and those are rare here, so it can run far less often.
GC_THRESHOLDS = (50_000, 50, 100)


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine on uvloop where it is installed (a faster event loop)."""
    gc.freeze()  # what the imports made lives as long as the process: never scan it again
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `mcp-tap` console script."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "proxy":
            return _proxy(args)
        if args.command == "show":
            return _show(args)
        if args.command == "replay":
            return _replay(args)
        if args.command == "serve":
            return _serve(args)
        if args.command == "demo":
            return _demo(args)
    except (UserError, PortInUse, ValueError, RecordingError, ReplayError) as error:
        print(f"mcp-tap: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    return EXIT_BAD_INPUT


def _proxy(args: argparse.Namespace) -> int:
    options = ProxyOptions(
        target=args.target,
        host=args.host,
        port=args.port,
        allow_hosts=args.allow_host,
        limits=_limits(args),
    )
    if not is_loopback(args.host):
        print(
            f"mcp-tap: warning: listening on {args.host}, not loopback: other machines can "
            "reach the proxy and, through it, the server",
            file=sys.stderr,
        )
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
        run_async(run_proxy(options, bus, out=info))
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
    return _open_recorder(args.record, args.target, rules)


def _open_recorder(path: str | None, target: str | None, rules: RedactionRules) -> RecordingWriter:
    try:
        return RecordingWriter(path, target, rules)
    except FileExistsError:
        raise UserError(f"{path} already exists; choose another --record path") from None
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


def _replay(args: argparse.Namespace) -> int:
    recording = load_recording(args.file)
    for warning in recording.warnings:
        print(f"mcp-tap: warning: {warning}", file=sys.stderr)
    headers = {}
    for item in args.header:
        name, equals, value = item.partition("=")
        if not equals or not name:
            raise UserError(f"--header wants NAME=VALUE, got {item!r}")
        headers[name.strip()] = value
    options = ReplayOptions(
        target=args.target,
        speed=None if args.fast else args.speed,
        ignore=args.ignore,
        headers=headers,
        progress_tolerance=args.progress_tolerance,
        timeout=args.timeout,
    )
    if options.speed is not None and options.speed <= 0:
        raise UserError("--speed must be above 0")
    bus = TapBus()
    for subscriber in _view_subscribers(args, bus):
        bus.subscribe(subscriber)
    if args.record:
        bus.subscribe(_open_recorder(args.record, args.target, RedactionRules.from_options()))
    try:
        verdicts, seconds = run_async(replay(recording.events, options, bus))
    finally:
        bus.close()
    _report(args, verdicts)
    if args.junit:
        write_junit(Path(args.junit), Path(args.file).stem, verdicts, seconds)
    return exit_code(verdicts)


def _serve(args: argparse.Namespace) -> int:
    from mcp_tap.cli.serve import ServeOptions, run_serve

    loaded = load_recordings(args.files)
    for warning in loaded.warnings:
        print(f"mcp-tap: warning: {warning}", file=sys.stderr)
    if not args.fast and args.speed <= 0:
        raise UserError("--speed must be above 0")
    options = ServeOptions(
        host=args.host,
        port=args.port,
        speed=None if args.fast else args.speed,
        rules=MatchRules.from_options(args.match, args.repeat),
        allow_hosts=args.allow_host,
        limits=_limits(args),
    )
    if not is_loopback(args.host):
        print(
            f"mcp-tap: warning: listening on {args.host}, not loopback: other machines can "
            "reach the mock",
            file=sys.stderr,
        )
    bus = TapBus()
    subscribers = _view_subscribers(args, bus)
    info = sys.stderr if args.jsonl else sys.stdout  # keep a JSON-lines stdout pure
    if args.record:
        recorder = _open_recorder(args.record, "serve", RedactionRules.from_options())
        subscribers.append(recorder)
        print(f"mcp-tap: recording to {recorder.path}", file=info, flush=True)
    for subscriber in subscribers:
        bus.subscribe(subscriber)
    try:
        report = run_async(run_serve(loaded, options, bus, out=info))
    finally:
        bus.close()
    for line in report.summary():
        print(line, file=sys.stderr)
    return 1 if args.strict and not report.clean else 0


def _demo(args: argparse.Namespace) -> int:
    console = Console(stderr=True) if args.jsonl else Console()

    def live_view(bus: TapBus) -> list[Subscriber]:
        return _view_subscribers(args, bus)

    def replay_view(bus: TapBus) -> list[Subscriber]:
        return _view_subscribers(argparse.Namespace(**{**vars(args), "quiet": True}), bus)

    from mcp_tap.cli.demo import run_demo  # imports the mcp client: only `demo` pays for it

    record = Path(args.record) if args.record else None
    verdicts = run_async(run_demo(console, record, live_view, replay_view))
    _report(args, verdicts)
    return exit_code(verdicts)


def _report(args: argparse.Namespace, verdicts: list[CallVerdict]) -> None:
    """The replay's diff and verdict; on stderr when stdout carries JSON lines."""
    print_verdicts(Console(stderr=True) if args.jsonl else Console(), verdicts)


if __name__ == "__main__":
    sys.exit(main())
