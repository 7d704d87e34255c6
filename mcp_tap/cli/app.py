"""The `mcp-tap` command line: parse arguments, call the library, turn errors into one line."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import time
from collections.abc import Coroutine, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from rich.console import Console

from mcp_tap.analysis.gate import SeverityGate
from mcp_tap.analysis.select import Selection, pick_events
from mcp_tap.cli.follow import follow_recording
from mcp_tap.cli.proxy import ProxyOptions, run_forward_proxy, run_proxy
from mcp_tap.cli.stdio import environment_names, run_stdio, split_command
from mcp_tap.http.ca import CA_DIR_ENV, CAError, default_ca_dir, load_or_create_ca
from mcp_tap.http.guard import is_loopback
from mcp_tap.http.limits import DEFAULT_LIMITS, Limits
from mcp_tap.http.serving import PortInUse
from mcp_tap.protocol.events import Severity, Subscriber, TapEvent
from mcp_tap.protocol.lines import DEFAULT_MAX_LINE
from mcp_tap.recording.reader import (
    EventSource,
    Recording,
    RecordingError,
    open_recording,
)
from mcp_tap.recording.redact import RedactionRules
from mcp_tap.recording.writer import (
    FORWARD_TARGET,
    RecordingWriter,
    StdioOrigin,
    mcp_tap_version,
)
from mcp_tap.replay.compare import CallVerdict
from mcp_tap.replay.junit import write_junit
from mcp_tap.replay.marks import divergence_findings
from mcp_tap.replay.replayer import ReplayError
from mcp_tap.replay.report import print_verdicts, verdicts_json
from mcp_tap.replay.run import ReplayOptions, exit_code, replay
from mcp_tap.replay.stdio_replayer import split_command as split_server_command
from mcp_tap.serve.matching import MatchRules
from mcp_tap.serve.run import LoadedRecordings, load_recordings, run_stdio_mock
from mcp_tap.stdio.relay import DEFAULT_DRAIN, DEFAULT_GRACE, DEFAULT_TERM_GRACE, StdioOptions
from mcp_tap.tap.bus import TapBus
from mcp_tap.view.console import DEFAULT_FPS, ViewOptions, build_view
from mcp_tap.view.recording_facts import RecordingFacts, exchange_detail, recording_header

EXIT_BAD_INPUT = 2
FOLLOW_FPS = 30.0  # a follower adds the writer's batching to its delay: frames come sooner
EXPORT_FORMATS = ("har", "jsonl", "otlp")
REPORT_LIMITS = (  # the page lists this much of a recording and counts the rest
    ("--max-rows", 5000, "messages, calls and findings listed on the page (default 5000)"),
    ("--max-charts", 100, "progress charts drawn (default 100)"),
    ("--max-points", 1000, "points per progress chart before it is thinned (default 1000)"),
)
DEFAULT_OTLP_TIMEOUT = 5.0
T = TypeVar("T")


class UserError(Exception):
    """Bad input: reported as one line and exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcp-tap",
        description="Record-and-replay inspector for the Model Context Protocol.",
        epilog=_examples("demo", "proxy --target http://127.0.0.1:8000/mcp", "show FILE.yaml"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mcp-tap {mcp_tap_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    proxy = _command(
        commands,
        "proxy",
        "forward to an MCP server and show what crosses",
        "Listen on loopback, forward every request to the target untouched, show each "
        "message and progress stream live, and record the session.",
        "proxy --target http://127.0.0.1:8000/mcp --port 8890",
        "proxy --port 0   (the bundled demo server, a free port)",
        "proxy --target URL --record session.yaml --jsonl | jq .",
        "proxy --forward --port 8890   (HTTPS_PROXY for clients that keep the real URL)",
    )
    proxy.add_argument(
        "--target", help="the MCP server's URL (default: start the bundled demo server)"
    )
    proxy.add_argument(
        "--forward",
        action="store_true",
        help="be an HTTP(S) forward proxy instead (clients set HTTPS_PROXY and keep the "
        "server's real URL; HTTPS is read with mcp-tap's own CA, see `mcp-tap ca`)",
    )
    _add_ca_dir(proxy)
    proxy.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    proxy.add_argument(
        "--port", type=int, default=8890, help="listen port; 0 picks a free one (default 8890)"
    )
    proxy.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also accept this Host/Origin name (DNS rebinding protection; repeatable); "
        "with --forward: a host name pattern (fnmatch) to read, other hosts are tunnelled "
        "unread (default: read every host)",
    )
    _add_fail_on(proxy)
    _add_limit_options(proxy)
    _add_recording_options(proxy)
    _add_otlp_options(proxy)
    _add_view_options(proxy)

    ca = _command(
        commands,
        "ca",
        "show or renew the CA that `proxy --forward` signs HTTPS certificates with",
        "Show where mcp-tap's local certificate authority is (made on first use), its "
        "fingerprint, and how to trust or remove it.",
        "ca",
        "ca --path",
        "ca --regenerate",
    )
    ca.add_argument("--path", action="store_true", help="print only the CA certificate's path")
    ca.add_argument(
        "--regenerate",
        action="store_true",
        help="make a new CA (clients that trusted the old one must be given the new one)",
    )
    _add_ca_dir(ca)

    stdio = _command(
        commands,
        "stdio",
        "run a stdio server's command, relay its stdin/stdout and record what crosses",
        "Run COMMAND as a host would, relaying stdin and stdout byte for byte "
        "and recording what crosses. Nothing of mcp-tap's own goes to stdout.",
        "stdio --record /tmp/my-server.yaml -- uvx my-server",
        "stdio --no-record -- python -m demo_server --stdio",
    )
    _add_recording_options(stdio)
    stdio.add_argument(
        "--max-line",
        type=int,
        default=DEFAULT_MAX_LINE,
        metavar="BYTES",
        help=f"forward longer lines without inspecting them (default {DEFAULT_MAX_LINE})",
    )
    stdio.add_argument(
        "--grace",
        type=float,
        default=DEFAULT_GRACE,
        metavar="SECONDS",
        help="after the host closes stdin, wait this long for the server to exit before "
        f"SIGTERM (default {DEFAULT_GRACE:g})",
    )
    stdio.add_argument(
        "--term-grace",
        type=float,
        default=DEFAULT_TERM_GRACE,
        metavar="SECONDS",
        help=f"then wait this long before SIGKILL (default {DEFAULT_TERM_GRACE:g})",
    )
    stdio.add_argument(
        "--drain",
        type=float,
        default=DEFAULT_DRAIN,
        metavar="SECONDS",
        help="after the server exits, wait this long for its stdout to close (a process it "
        f"left behind may hold it; default {DEFAULT_DRAIN:g})",
    )
    stdio.add_argument(
        "command_words",
        nargs=argparse.REMAINDER,
        metavar="-- COMMAND [ARGS...]",
        help="the server's command, after `--`",
    )

    show = _command(
        commands,
        "show",
        "show a recording as the live proxy would",
        "Print a recording with the same lines, bars, findings and summary as the live view.",
        "show recordings/download_file-handshake.yaml",
        "show session.yaml --filter 'tools/call' -v",
        "show session.yaml --jsonl | jq .",
    )
    show.add_argument("file", metavar="FILE.yaml", help="a recording written by `mcp-tap proxy`")
    _add_fail_on(show)
    pick = show.add_argument_group("selection (every one given must hold; each repeatable)")
    pick.add_argument("--tool", action="append", default=[], metavar="GLOB", help="a tool name")
    pick.add_argument(
        "--resource", action="append", default=[], metavar="GLOB", help="a resource URI"
    )
    pick.add_argument("--id", action="append", default=[], help="a JSON-RPC request id")
    pick.add_argument("--session", action="append", default=[], help="a session id")
    pick.add_argument("--since", type=float, metavar="SECONDS", help="from this time on")
    pick.add_argument("--until", type=float, metavar="SECONDS", help="up to this time")
    pick.add_argument("--grep", metavar="TEXT", help="messages whose JSON holds TEXT")
    pick.add_argument(
        "--exchange", type=int, metavar="N", help="print exchange N whole: headers, bodies, times"
    )
    live = show.add_argument_group("following a recording being written")
    live.add_argument(
        "--follow",
        action="store_true",
        help="show events as they are written, until the writer finishes (or Ctrl-C); "
        "waits for the file to appear",
    )
    live.add_argument(
        "--since-now", action="store_true", help="with --follow: only events written from now on"
    )
    _add_view_options(show)
    replay = _command(
        commands,
        "replay",
        "re-send a recording to a server and compare what comes back",
        "Re-send the client side of a recording (to a fresh bundled demo server by default), "
        "compare each result and progress stream, exit 0 when everything matches, 1 when "
        "something diverged, 2 for bad input. HTTP and stdio recordings replay over either "
        "carrier: the messages are the same.",
        "replay recordings/download_file-handshake.yaml",
        "replay session.yaml --target http://127.0.0.1:8000/mcp --fast --junit report.xml",
        'replay stdio-session.yaml --command "python -m demo_server --stdio"',
        "replay session.yaml --ignore result.content.0.text --header Authorization='Bearer t'",
    )
    replay.add_argument("file", metavar="FILE.yaml", help="a recording written by `mcp-tap proxy`")
    server = replay.add_mutually_exclusive_group()
    server.add_argument(
        "--target", help="the server's URL (default: start a fresh bundled demo server)"
    )
    server.add_argument(
        "--command",
        dest="server_command",
        metavar="COMMAND",
        help="start this stdio server (split as a shell would) and replay over its "
        "stdin and stdout",
    )
    _add_pace(replay, "send each message as soon as causality allows")
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
    replay.add_argument(
        "--report",
        metavar="FILE",
        help="write the recording's HTML report here, each divergence marked on its request",
    )
    replay.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="the verdict as text for people, or JSON on stdout for machines (default text)",
    )
    _add_record_path(replay, "record the replay itself here")
    _add_otlp_options(replay)
    _add_view_options(replay)

    export = _command(
        commands,
        "export",
        "write a recording as HAR, JSON lines or OpenTelemetry traces",
        "Write a recording for other tools: a browser's network panel (HAR 1.2), pipes "
        "(JSON lines, as --jsonl) or a tracing backend (OTLP/JSON traces).",
        "export session.yaml --format har -o session.har",
        "export session.yaml --format otlp -o traces.json",
        "export session.yaml --format jsonl | jq .",
    )
    export.add_argument("file", metavar="FILE.yaml", help="a recording written by `mcp-tap proxy`")
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

    report = _command(
        commands,
        "report",
        "write a recording as one self-contained HTML page with charts",
        "One HTML file, no network: session facts, a timeline, a progress chart per token, "
        "findings and a filterable table of messages.",
        "report session.yaml -o report.html",
    )
    report.add_argument("file", metavar="FILE.yaml", help="a recording written by `mcp-tap proxy`")
    report.add_argument(
        "-o", "--output", metavar="FILE", help="where to write the page (default: standard output)"
    )
    for flag, default, what in REPORT_LIMITS:
        report.add_argument(flag, type=int, default=default, metavar="N", help=what)

    serve = _command(
        commands,
        "serve",
        "answer MCP clients from recordings, as the recorded server did",
        "Stand in for the recorded server: answer each request from the recording it matches, "
        "progress and all, and explain the requests that match nothing.",
        "serve recordings/download_file-handshake.yaml --port 8000",
        "serve session.yaml --fast --strict --match ignore:params.arguments.seed",
    )
    serve.add_argument(
        "files", nargs="+", metavar="RECORDING", help="recordings written by `mcp-tap proxy`"
    )
    serve.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    serve.add_argument(
        "--port", type=int, default=8000, help="listen port; 0 picks a free one (default 8000)"
    )
    _add_pace(serve, "send every recorded message at once")
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
    _add_record_path(serve, "record the mock's own session here")
    serve.add_argument(
        "--stdio",
        action="store_true",
        help="be a stdio server (for hosts): requests on stdin, answers on stdout, "
        "nothing else on stdout; the summary goes to stderr",
    )
    _add_limit_options(serve, skip=UPSTREAM_LIMITS)
    _add_otlp_options(serve)
    _add_view_options(serve)

    demo = _command(
        commands,
        "demo",
        "demo server + proxy + scripted clients, then a replay of the recording",
        "Start the bundled demo server and a recording proxy, drive scripted clients through "
        "it, then replay the recording against a fresh demo server and print the verdict.",
        "demo",
        "demo --record /tmp/demo.yaml --force -q",
    )
    _add_record_path(
        demo, "where to write the demo's recording (default: recordings/<UTC time>-demo.yaml)"
    )
    _add_view_options(demo)

    return parser


def _add_fail_on(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fail-on",
        choices=("error", "warning"),
        help="exit 1 when findings of this severity or worse (or faults) were seen; "
        "without it the exit code is 0",
    )


def _gate(args: argparse.Namespace, bus: TapBus) -> SeverityGate | None:
    if not args.fail_on:
        return None
    gate = SeverityGate(Severity(args.fail_on))
    bus.subscribe(gate)
    return gate


def _gate_exit(gate: SeverityGate | None) -> int:
    if gate is None or not gate.tripped:
        return 0
    print(
        f"mcp-tap: {gate.tripped} findings or faults at --fail-on {gate.threshold.value} or worse",
        file=sys.stderr,
    )
    return 1


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  mcp-tap {line}" for line in lines)


def _command(
    commands: Any, name: str, summary: str, description: str, *examples: str
) -> argparse.ArgumentParser:
    """A subcommand whose --help has a description and examples, as people expect."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=summary,
        description=description,
        epilog=_examples(*examples),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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
    "max_certs": ("N", "--forward: keep this many minted host certificates in memory"),
}


def _limit_flag(field: str) -> str:
    return "--" + field.replace("_", "-")


# meaningless to a mock
UPSTREAM_LIMITS = frozenset({"idle_timeout", "upstream_keep_alive", "max_certs"})


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


def _add_ca_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ca-dir",
        metavar="DIR",
        help=f"where mcp-tap's CA is kept (default ${CA_DIR_ENV}, else "
        "$XDG_CONFIG_HOME/mcp-tap or ~/.config/mcp-tap)",
    )


def _add_pace(parser: argparse.ArgumentParser, fast_help: str) -> None:
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="scale the recorded gaps (2 = twice as fast; default 1)",
    )
    pace.add_argument("--fast", action="store_true", help=fast_help)


def _add_record_path(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--record", metavar="PATH", help=what)
    _add_force(parser)


def _add_force(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument(
        "--force", action="store_true", help="replace the --record file if it already exists"
    )


def _add_recording_options(command: argparse.ArgumentParser) -> None:
    parser = command.add_argument_group("recording")
    record = parser.add_mutually_exclusive_group()
    record.add_argument(
        "--record",
        metavar="PATH",
        help="write the recording here (default: recordings/<UTC time>-<target host>.yaml)",
    )
    record.add_argument("--no-record", action="store_true", help="do not write a recording")
    _add_force(parser)
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


def _add_otlp_options(command: argparse.ArgumentParser) -> None:
    parser = command.add_argument_group("OpenTelemetry")
    parser.add_argument(
        "--otlp-endpoint",
        metavar="URL",
        help="also send a span per request to this OTLP/HTTP collector as it ends, e.g. "
        "http://127.0.0.1:4318 (a URL without a path gets /v1/traces)",
    )
    parser.add_argument(
        "--otlp-header",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="send this header to the collector, e.g. x-honeycomb-team=KEY (repeatable)",
    )
    parser.add_argument(
        "--otlp-timeout",
        type=float,
        default=DEFAULT_OTLP_TIMEOUT,
        metavar="SECONDS",
        help="wait this long for the collector on each batch and at exit "
        f"(default {DEFAULT_OTLP_TIMEOUT:g})",
    )


def _otlp_subscriber(args: argparse.Namespace, bus: TapBus, target: str) -> Subscriber | None:
    """The live OTLP exporter --otlp-endpoint asks for, or None; warnings go to stderr."""
    endpoint = getattr(args, "otlp_endpoint", None)
    if endpoint is None:
        return None
    from mcp_tap.export.live_otlp import live_traces  # only an export pays for the SDK

    def warn(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    return live_traces(
        endpoint,
        _name_values(args.otlp_header, "--otlp-header"),
        args.otlp_timeout,
        epoch0=time.time() - bus.now(),
        target=target,
        version=mcp_tap_version(),
        warn=warn,
    )


def check_otlp_options(args: argparse.Namespace) -> None:
    """Refuse a bad --otlp-* option before anything starts."""
    if getattr(args, "otlp_endpoint", None) is None:
        return
    checked_target(args.otlp_endpoint, "--otlp-endpoint")
    _name_values(args.otlp_header, "--otlp-header")
    if not args.otlp_timeout > 0:
        raise UserError(f"--otlp-timeout must be positive, got {args.otlp_timeout:g}")


def _name_values(items: list[str], flag: str) -> dict[str, str]:
    """`NAME=VALUE` options (--header, --otlp-header) as a dict."""
    values = {}
    for item in items:
        name, equals, value = item.partition("=")
        if not equals or not name.strip():
            raise UserError(f"{flag} wants NAME=VALUE, got {item!r}")
        values[name.strip()] = value
    return values


def _add_view_options(command: argparse.ArgumentParser) -> None:
    parser = command.add_argument_group("view")
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
    parser.add_argument(
        "--clock",
        action="store_true",
        help="show the wall-clock time (HH:MM:SS.mmm) instead of seconds since the start",
    )
    parser.add_argument(
        "--progress-lines",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="a line for each progress notification as well as its bar (default: on)",
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
        if args.command == "stdio":
            return _stdio(args)
        if args.command == "ca":
            return _ca(args)
        if args.command == "show":
            return _show(args)
        if args.command == "replay":
            return _replay(args)
        if args.command == "serve":
            return _serve(args)
        if args.command == "demo":
            return _demo(args)
        if args.command == "export":
            return _export(args)
        if args.command == "report":
            return _write_report(args)
    except (UserError, PortInUse, ValueError, RecordingError, ReplayError, CAError) as error:
        print(f"mcp-tap: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    return EXIT_BAD_INPUT


def _ca_dir(args: argparse.Namespace) -> Path:
    return Path(args.ca_dir).expanduser() if args.ca_dir else default_ca_dir()


def _ca(args: argparse.Namespace) -> int:
    ca, created = load_or_create_ca(_ca_dir(args), regenerate=args.regenerate)
    if args.path:
        print(ca.cert_path)
        return 0
    bundle = ca.write_bundle()
    state = "made now" if created else "made earlier"
    print(
        f"mcp-tap CA ({state}): {ca.cert_path}\n"
        f"  key:         {ca.key_path} (mode 0600; it can sign for any host: keep it private)\n"
        f"  bundle:      {bundle} (this machine's CAs plus mcp-tap's, for SSL_CERT_FILE)\n"
        f"  fingerprint: SHA256 {ca.fingerprint}\n"
        f"Trust it per process: SSL_CERT_FILE={bundle} NODE_EXTRA_CA_CERTS={ca.cert_path}\n"
        f"                     curl --cacert {ca.cert_path}\n"
        f"Remove it: delete {ca.directory} (and undo any system-wide trust you added)"
    )
    return 0


def _proxy(args: argparse.Namespace) -> int:
    if args.forward and args.target is not None:
        raise UserError(
            "--forward and --target exclude each other: a forward proxy serves "
            "whatever URL the client asks for"
        )
    options = ProxyOptions(
        target=checked_target(args.target, "--target"),
        host=args.host,
        port=checked_port(args.port),
        allow_hosts=args.allow_host,
        limits=_limits(args),
        forward=args.forward,
    )
    ca = (
        load_or_create_ca(_ca_dir(args), max_certs=options.limits.max_certs)[0]
        if (args.forward)
        else None
    )
    check_record_path(args)
    check_otlp_options(args)
    if not is_loopback(args.host):
        print(
            f"mcp-tap: warning: listening on {args.host}, not loopback: other machines can "
            "reach the proxy and, through it, the server",
            file=sys.stderr,
        )
    bus = TapBus()
    info = sys.stderr if args.jsonl else sys.stdout  # keep a JSON-lines stdout pure
    recorders: list[RecordingWriter] = []

    gate = _gate(args, bus)

    def start_session() -> None:
        # Only once the proxy listens: a failed start leaves no recording and no summary.
        recorder = _recorder(args, FORWARD_TARGET if ca is not None else None)
        if recorder is not None:
            recorders.append(recorder)
            bus.subscribe(recorder)
            print(f"mcp-tap: recording to {recorder.path}", file=info, flush=True)
        for subscriber in _view_subscribers(args, bus):
            bus.subscribe(subscriber)
        traces = _otlp_subscriber(args, bus, args.target or "demo")
        if traces is not None:
            bus.subscribe(traces)

    try:
        if ca is not None:
            run_async(run_forward_proxy(options, ca, bus, out=info, on_listening=start_session))
        else:
            run_async(run_proxy(options, bus, out=info, on_listening=start_session))
    finally:
        bus.close()
        for recorder in recorders:
            if recorder.error is not None:
                print(f"mcp-tap: the recording stopped early: {recorder.error}", file=sys.stderr)
    return _gate_exit(gate)


def checked_target(target: str | None, flag: str) -> str | None:
    """`target` if it is an http(s) URL; a scheme-less one gets a `did you mean` hint."""
    if target is None:
        return None
    parts = urlsplit(target)
    if parts.scheme in ("http", "https") and parts.netloc:
        return target
    if "://" not in target:
        raise UserError(f"{flag} {target} has no scheme; did you mean http://{target}?")
    raise UserError(f"{flag} must be an http(s) URL, got {target!r}")


def checked_port(port: int) -> int:
    if not 0 <= port <= 65535:
        raise UserError(f"--port {port} is not a port (0-65535; --port 0 picks a free one)")
    return port


def check_record_path(args: argparse.Namespace) -> None:
    """Refuse to replace a recording unless --force says so, before anything starts."""
    path = getattr(args, "record", None)
    if path and Path(path).exists() and not getattr(args, "force", False):
        raise UserError(f"{path} already exists; use --force to replace it")


def _stdio(args: argparse.Namespace) -> int:
    command = split_command(args.command_words)
    if not command:
        raise UserError("stdio needs the server's command: mcp-tap stdio [OPTIONS] -- COMMAND")
    if command[0].startswith("-"):
        raise UserError(f"unknown option {command[0]!r}; put the server's command after `--`")
    if args.max_line < 1:
        raise UserError("--max-line must be at least 1")
    if min(args.grace, args.term_grace, args.drain) < 0:
        raise UserError("--grace, --term-grace and --drain must not be negative")
    options = StdioOptions(command, args.max_line, args.grace, args.term_grace, args.drain)
    recorder = None
    if not args.no_record:
        rules = RedactionRules.from_options(
            enabled=not args.no_redact, headers=args.redact_header, fields=args.redact_field
        )
        origin = StdioOrigin(command, environment_names())
        check_record_path(args)
        recorder = _open_recorder(args.record, None, rules, args.force, origin)
        print(f"mcp-tap: recording to {recorder.path}", file=sys.stderr, flush=True)
    bus = TapBus()
    try:
        return run_async(run_stdio(options, bus, recorder))
    finally:
        bus.close()
        if recorder is not None and recorder.error is not None:
            print(f"mcp-tap: the recording stopped early: {recorder.error}", file=sys.stderr)


def _view_subscribers(
    args: argparse.Namespace,
    bus: TapBus,
    *,
    recorded: bool = False,
    fps: float = DEFAULT_FPS,
    started_at: float | None = None,
) -> list[Subscriber]:
    """What shows events to the user, live or from a recording: the one place to change it.

    The progress tracker (publishing its findings on `bus`) and then the view, in that
    order. `recorded`: the events come from a recording that already holds its findings.
    """
    options = ViewOptions(
        verbose=getattr(args, "verbose", False),
        quiet=getattr(args, "quiet", False),
        filters=tuple(getattr(args, "filter", None) or ()),
        fps=fps,
        clock=getattr(args, "clock", False),
        started_at=started_at,
        progress_lines=getattr(args, "progress_lines", True),
    )
    jsonl = getattr(args, "jsonl", False)
    machine_stdout = getattr(args, "format", None) == "json"  # replay --format json owns stdout
    return build_view(
        bus.publish,
        options,
        jsonl=sys.stdout if jsonl else None,
        console=Console(stderr=True) if machine_stdout else None,
        summary_console=Console(stderr=True) if jsonl else None,
        emit_findings=not recorded,
    )


def _recorder(args: argparse.Namespace, target: str | None = None) -> RecordingWriter | None:
    """The recording subscriber `mcp-tap proxy` was asked for, or None with --no-record."""
    if args.no_record:
        return None
    rules = RedactionRules.from_options(
        enabled=not args.no_redact, headers=args.redact_header, fields=args.redact_field
    )
    return _open_recorder(args.record, target or args.target, rules, args.force)


def _open_recorder(
    path: str | None,
    target: str | None,
    rules: RedactionRules,
    force: bool = False,
    stdio: StdioOrigin | None = None,
) -> RecordingWriter:
    try:
        return RecordingWriter(path, target, rules, overwrite=force, stdio=stdio)
    except FileExistsError:
        raise UserError(f"{path} already exists; use --force to replace it") from None
    except OSError as error:
        raise UserError(f"cannot create the recording: {error}") from None


def _show(args: argparse.Namespace) -> int:
    if args.follow:
        return _follow(args)
    if args.since_now:
        raise UserError("--since-now goes with --follow")
    # Read twice, never held: a first pass checks the whole file and counts what the
    # header line says, the second shows the events.
    recording = open_recording(args.file)
    facts = RecordingFacts.of(recording)
    _warn(recording)
    console = Console(stderr=True) if args.jsonl else Console()
    console.print(recording_header(args.file, recording.header, facts))
    if args.exchange is not None:
        if args.exchange not in facts.exchanges:
            raise UserError(
                f"{args.file} has no exchange {args.exchange} ({len(facts.exchanges)} in all)"
            )
        console.print(exchange_detail(args.exchange, recording))
        return 0
    selection = Selection(
        methods=tuple(args.filter),
        tools=tuple(args.tool),
        resources=tuple(args.resource),
        ids=tuple(args.id),
        sessions=tuple(args.session),
        since=args.since,
        until=args.until,
        grep=args.grep,
    )
    events: Iterable[TapEvent] = recording
    if selection:
        kept, events = pick_events(recording, selection)
        total = len(facts.message_exchanges)
        console.print(f"{len(kept)} of {total} exchanges match", style="dim")
        if not kept:
            return 1  # like grep: nothing matched
    bus = TapBus()
    gate = _gate(args, bus)
    started = started_epoch(recording.header)
    for subscriber in _view_subscribers(args, bus, recorded=True, started_at=started):
        bus.subscribe(subscriber)
    try:
        for event in events:
            bus.publish(event)  # no event loop here: delivered at once, in order
    finally:
        bus.close()
    return _gate_exit(gate)


def started_epoch(header: dict[str, Any]) -> float | None:
    """A recording's `started` (ISO 8601, UTC) as seconds since 1970, for --clock."""
    try:
        return datetime.fromisoformat(
            str(header.get("started", "")).replace("Z", "+00:00")
        ).timestamp()
    except ValueError:
        return None


def _follow(args: argparse.Namespace) -> int:
    """The live view of a recording being written (by `proxy`, `stdio`, `replay --record`)."""
    bus = TapBus()
    gate = _gate(args, bus)
    for subscriber in _view_subscribers(args, bus, recorded=True, fps=FOLLOW_FPS):
        bus.subscribe(subscriber)
    try:
        run_async(follow_recording(Path(args.file), bus, args.since_now))
    finally:
        bus.close()
    return _gate_exit(gate)


def _warn(recording: EventSource) -> None:
    """A recording's warnings (a cut end) on stderr, once a pass over it has found them."""
    for warning in recording.warnings:
        print(f"mcp-tap: warning: {warning}", file=sys.stderr)


def _write_output(path: str | None, text: str | Iterable[str]) -> None:
    chunks = [text] if isinstance(text, str) else text
    if path is None or path == "-":
        for chunk in chunks:
            sys.stdout.write(chunk)
        sys.stdout.flush()
        return
    try:
        with Path(path).open("w", encoding="utf-8") as out:
            for chunk in chunks:
                out.write(chunk)
    except OSError as error:
        raise UserError(f"cannot write {path}: {error.strerror or error}") from None


def _export(args: argparse.Namespace) -> int:
    if args.format not in EXPORT_FORMATS:
        raise UserError(
            f"unknown --format {args.format!r}; choose one of {', '.join(EXPORT_FORMATS)}"
        )
    from mcp_tap.export.formats import export_chunks

    recording = open_recording(args.file)
    _write_output(args.output, export_chunks(recording, args.format))
    _warn(recording)
    return 0


def _write_report(args: argparse.Namespace) -> int:
    from mcp_tap.export.report import render_report
    from mcp_tap.export.report_data import ReportLimits

    limits = ReportLimits(args.max_rows, args.max_charts, args.max_points)
    if min(vars(limits).values()) < 1:
        raise UserError("--max-rows, --max-charts and --max-points must be at least 1")
    recording = open_recording(args.file)
    page = render_report(recording, limits)
    _warn(recording)
    _write_output(args.output, page)
    return 0


def _replay(args: argparse.Namespace) -> int:
    recording = open_recording(args.file)  # read as the plan is built, never held whole
    stdio = recording.header.get("transport") == "stdio"
    headers = _name_values(args.header, "--header")
    options = ReplayOptions(
        target=checked_target(args.target, "--target"),
        command=split_server_command(args.server_command)
        if args.server_command is not None
        else None,
        speed=None if args.fast else args.speed,
        ignore=args.ignore,
        headers=headers,
        progress_tolerance=args.progress_tolerance,
        timeout=args.timeout,
    )
    if options.speed is not None and options.speed <= 0:
        raise UserError("--speed must be above 0")
    check_record_path(args)
    check_otlp_options(args)
    bus = TapBus()

    def start_session() -> None:
        # Only once the target answers: a start-up error shows no summary, writes no file.
        if args.record:
            rules = RedactionRules.from_options()
            origin = StdioOrigin(options.command, environment_names()) if options.command else None
            bus.subscribe(_open_recorder(args.record, args.target, rules, args.force, origin))
        for subscriber in _view_subscribers(args, bus):
            bus.subscribe(subscriber)
        traces = _otlp_subscriber(args, bus, args.target or "demo")
        if traces is not None:
            bus.subscribe(traces)

    try:
        verdicts, seconds = run_async(replay(recording, options, bus, start_session, stdio))
    finally:
        bus.close()
    _warn(recording)
    _report(args, verdicts)
    if args.junit:
        write_junit(Path(args.junit), Path(args.file).stem, verdicts, seconds)
    if args.report:
        from mcp_tap.export.report import render_report  # only a report pays for its import

        # The recording's page, each divergence marked on its request as a finding.
        events = sorted([*recording, *divergence_findings(verdicts)], key=lambda e: e.time)
        marked = Recording(recording.header, events, list(recording.warnings))
        _write_output(args.report, render_report(marked))
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
        port=checked_port(args.port),
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
    check_otlp_options(args)
    if args.stdio:
        return _serve_stdio(args, loaded)
    bus = TapBus()
    subscribers = _view_subscribers(args, bus)
    info = sys.stderr if args.jsonl else sys.stdout  # keep a JSON-lines stdout pure
    if args.record:
        recorder = _open_recorder(args.record, "serve", RedactionRules.from_options(), args.force)
        subscribers.append(recorder)
        print(f"mcp-tap: recording to {recorder.path}", file=info, flush=True)
    traces = _otlp_subscriber(args, bus, "serve")
    if traces is not None:
        subscribers.append(traces)
    for subscriber in subscribers:
        bus.subscribe(subscriber)
    try:
        report = run_async(run_serve(loaded, options, bus, out=info))
    finally:
        bus.close()
    for line in report.summary():
        print(line, file=sys.stderr)
    return 1 if args.strict and not report.clean else 0


def _serve_stdio(args: argparse.Namespace, loaded: LoadedRecordings) -> int:
    """serve --stdio: stdout carries the protocol, so no view; a recording and the summary."""
    bus = TapBus()
    if args.record:
        check_record_path(args)
        bus.subscribe(
            _open_recorder(args.record, "serve", RedactionRules.from_options(), args.force)
        )
    for note in loaded.notes:
        print(f"mcp-tap: note: {note}", file=sys.stderr)
    rules = MatchRules.from_options(args.match, args.repeat)
    try:
        speed = None if args.fast else args.speed
        report = run_async(run_stdio_mock(loaded, bus, rules=rules, speed=speed))
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

    check_record_path(args)
    record = Path(args.record) if args.record else None
    verdicts = run_async(run_demo(console, record, live_view, replay_view, args.force))
    _report(args, verdicts)
    return exit_code(verdicts)


def _report(args: argparse.Namespace, verdicts: list[CallVerdict]) -> None:
    """The replay's diff and verdict; on stderr when stdout carries JSON lines."""
    if getattr(args, "format", "text") == "json":
        print(json.dumps(verdicts_json(verdicts), indent=2, default=str))
        return
    print_verdicts(Console(stderr=True) if args.jsonl else Console(), verdicts)


if __name__ == "__main__":
    sys.exit(main())
