"""`mcp-tap serve`: a recording stands in for its server until Ctrl-C, then a summary.

Over HTTP by default (`run_serve`, which tests call directly), or over stdin and stdout with
--stdio, where the protocol owns stdout and there is no console view (`--web`: the page, its
URL on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TextIO

from mcp_tap.cli.common import UserError, banner, check_record_path, checked_port, run_async
from mcp_tap.cli.faults import add_fault_options, fault_plan
from mcp_tap.cli.options import (
    RECORDING_SOURCES,
    UPSTREAM_LIMITS,
    Commands,
    add_command,
    add_limit_options,
    add_otlp_options,
    add_pace,
    add_record_path,
    add_view_options,
    check_otlp_options,
    checked_limits,
)
from mcp_tap.cli.subscribers import open_recorder, otlp_subscriber, view_subscribers
from mcp_tap.cli.web import add_web_option, max_events, web_session, web_store
from mcp_tap.faults import FaultPlan
from mcp_tap.http.guard import is_loopback
from mcp_tap.http.limits import DEFAULT_LIMITS, Limits
from mcp_tap.protocol.redaction import RedactionRules
from mcp_tap.serve.asks import DEFAULT_ASK_TIMEOUT
from mcp_tap.serve.matching import MatchRules
from mcp_tap.serve.run import (
    LoadedRecordings,
    ServeReport,
    load_recordings,
    make_spy,
    run_stdio_mock,
    running_mock,
)
from mcp_tap.serve.spy import DEFAULT_UPSTREAM_TIMEOUT, Spy
from mcp_tap.stdio.command import split_command_line
from mcp_tap.stdio.relay import DEFAULT_GRACE, DEFAULT_TERM_GRACE
from mcp_tap.tap.bus import TapBus
from mcp_tap.view.visible import visible


@dataclass
class ServeOptions:
    """What `mcp-tap serve` was asked to do."""

    host: str = "127.0.0.1"
    port: int = 8000
    speed: float | None = 1.0  # None: --fast
    rules: MatchRules = field(default_factory=MatchRules)
    allow_hosts: Sequence[str] = ()
    limits: Limits = DEFAULT_LIMITS
    ask_timeout: float = DEFAULT_ASK_TIMEOUT  # --ask-timeout
    strict: bool = False  # a re-enacted request answered differently is a miss
    faults: FaultPlan | None = None  # --fault rules the mock performs
    spy: Spy | None = None  # --upstream: misses go to the real server


def register(commands: Commands) -> None:
    """Add `mcp-tap serve` and its flags."""
    serve = add_command(
        commands,
        "serve",
        run,
        "answer MCP clients from recordings, as the recorded server did",
        "Stand in for the recorded server: answer each request from the recording it matches, "
        "progress and all, and explain the requests that match nothing.",
        "serve recordings/download_file-handshake.yaml --port 8000",
        "serve session.yaml --fast --strict --match ignore:params.arguments.seed",
    )
    serve.add_argument(
        "files", nargs="+", metavar="RECORDING", help=f"mcp-tap recordings ({RECORDING_SOURCES})"
    )
    serve.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    serve.add_argument(
        "--port", type=int, default=8000, help="listen port; 0 picks a free one (default 8000)"
    )
    add_pace(serve, "send every recorded message at once")
    serve.add_argument(
        "--match",
        action="append",
        default=[],
        metavar="RULE",
        help="ignore:PATH (also ignore this request field, e.g. ignore:params.arguments.seed), "
        "with-meta (compare params._meta too, bar tokens, trace context and client info), "
        "meta:KEY (compare this _meta key, volatile or not), method-only (match by method and "
        "tool name alone), sequence:PATH (one sequence of calls per value of this field); "
        "repeatable",
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
        help="exit 1 if a request missed or a recorded interaction was never used; a client "
        "answering a re-enacted sampling/elicitation/roots request differently is a miss",
    )
    serve.add_argument(
        "--ask-timeout",
        type=float,
        default=DEFAULT_ASK_TIMEOUT,
        metavar="SECONDS",
        help="how long a client has to answer a recorded request the mock sends it "
        f"(sampling, elicitation, roots, ping; default {DEFAULT_ASK_TIMEOUT:g})",
    )
    serve.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also accept this Host/Origin name (DNS rebinding protection; repeatable)",
    )
    serve.add_argument(
        "--upstream",
        metavar="URL",
        help="spy mode: forward what the recordings cannot answer to this real MCP server "
        "(e.g. http://127.0.0.1:9000/mcp) and give its answer",
    )
    serve.add_argument(
        "--command",
        dest="server_command",
        metavar="CMD",
        help="spy mode with a stdio server: forward what the recordings cannot answer to this "
        'command, started at the first miss and stopped with the mock (e.g. "python -m '
        'demo_server --stdio"); with HTTP and with --stdio alike',
    )
    serve.add_argument(
        "--record-misses",
        action="store_true",
        help="with --upstream or --command: append each forwarded call, whole, to the first "
        "recording (and answer it from there from then on)",
    )
    serve.add_argument(
        "--upstream-timeout",
        type=float,
        default=DEFAULT_UPSTREAM_TIMEOUT,
        metavar="SECONDS",
        help="how long the --upstream or --command server has to answer a forwarded call "
        f"(default {DEFAULT_UPSTREAM_TIMEOUT:g}); then the call gets the miss error",
    )
    serve.add_argument(
        "--grace",
        type=float,
        default=DEFAULT_GRACE,
        metavar="SECONDS",
        help="with --command: how long the server has to exit once its stdin is closed at the "
        f"mock's end, before SIGTERM (default {DEFAULT_GRACE:g})",
    )
    serve.add_argument(
        "--term-grace",
        type=float,
        default=DEFAULT_TERM_GRACE,
        metavar="SECONDS",
        help=f"with --command: from that SIGTERM to SIGKILL (default {DEFAULT_TERM_GRACE:g})",
    )
    add_record_path(serve, "record the mock's own session here")
    serve.add_argument(
        "--stdio",
        action="store_true",
        help="be a stdio server (for hosts): requests on stdin, answers on stdout, "
        "nothing else on stdout; the summary goes to stderr",
    )
    add_fault_options(serve)
    add_limit_options(serve, skip=UPSTREAM_LIMITS)
    add_otlp_options(serve)
    add_view_options(serve)
    add_web_option(serve)


def run(args: argparse.Namespace) -> int:
    """`mcp-tap serve`: answer until Ctrl-C, then the summary; 1 under --strict if unclean."""
    loaded = load_recordings(args.files)
    for warning in loaded.warnings:
        print(f"mcp-tap: warning: {visible(warning)}", file=sys.stderr)
    if not args.fast and args.speed <= 0:
        raise UserError("--speed must be above 0")
    if not args.ask_timeout > 0:
        raise UserError("--ask-timeout must be above 0")
    max_events(args)  # a bad value is one line before any file is made
    try:
        command = None
        if args.server_command is not None:
            command = split_command_line(args.server_command)
        spy = make_spy(
            loaded,
            args.files,
            args.upstream,
            args.record_misses,
            None,
            args.upstream_timeout,
            command,
            (args.grace, args.term_grace),
        )
    except ValueError as error:
        raise UserError(str(error)) from None
    options = ServeOptions(
        host=args.host,
        port=checked_port(args.port),
        speed=None if args.fast else args.speed,
        rules=MatchRules.from_options(args.match, args.repeat),
        allow_hosts=args.allow_host,
        limits=checked_limits(args),
        ask_timeout=args.ask_timeout,
        strict=args.strict,
        faults=fault_plan(args, "serve-stdio" if args.stdio else "serve"),
        spy=spy,
    )
    if not is_loopback(args.host):
        print(
            f"mcp-tap: warning: listening on {args.host}, not loopback: other machines can "
            "reach the mock",
            file=sys.stderr,
        )
    check_otlp_options(args)
    if args.stdio:
        return _serve_stdio(args, loaded, options.faults, spy)
    bus = TapBus()
    subscribers = view_subscribers(args, bus)
    info = sys.stderr if args.jsonl else sys.stdout  # keep a JSON-lines stdout pure
    if args.record:
        recorder = open_recorder(args.record, "serve", RedactionRules.from_options(), args.force)
        subscribers.append(recorder)
        print(f"mcp-tap: recording to {recorder.path}", file=info, flush=True)
    traces = otlp_subscriber(args, bus, "serve")
    if traces is not None:
        subscribers.append(traces)
    for subscriber in subscribers:
        bus.subscribe(subscriber)
    store = web_store(args, bus)

    async def serve() -> ServeReport:
        async with web_session(args, store, None, "serve", info, resend=False):
            return await run_serve(loaded, options, bus, out=info)

    try:
        report = run_async(serve())
    finally:
        bus.close()
    for line in report.summary():
        print(visible(line), file=sys.stderr)
    return 1 if args.strict and not report.clean else 0


def _serve_stdio(
    args: argparse.Namespace,
    loaded: LoadedRecordings,
    faults: FaultPlan | None,
    spy: Spy | None,
) -> int:
    """serve --stdio: stdout carries the protocol, so no console view; a recording, the
    summary, and the web view when asked (`--web`)."""
    bus = TapBus()
    if args.record:
        check_record_path(args)
        bus.subscribe(
            open_recorder(args.record, "serve", RedactionRules.from_options(), args.force)
        )
    for note in loaded.notes:
        print(f"mcp-tap: note: {visible(note)}", file=sys.stderr)
    if spy is not None:
        print(f"mcp-tap: {_forwarding(spy)}", file=sys.stderr)
    rules = MatchRules.from_options(args.match, args.repeat)
    store = web_store(args, bus)

    async def serve() -> ServeReport:
        # stdout carries the protocol: the page's URL goes to stderr
        async with web_session(args, store, None, "serve --stdio", sys.stderr, resend=False):
            return await run_stdio_mock(
                loaded,
                bus,
                rules=rules,
                speed=None if args.fast else args.speed,
                ask_timeout=args.ask_timeout,
                strict=args.strict,
                faults=faults,
                spy=spy,
            )

    try:
        report = run_async(serve())
    finally:
        bus.close()
    for line in report.summary():
        print(visible(line), file=sys.stderr)
    return 1 if args.strict and not report.clean else 0


async def run_serve(
    loaded: LoadedRecordings,
    options: ServeOptions,
    bus: TapBus,
    out: TextIO = sys.stdout,
) -> ServeReport:
    """Serve until SIGINT or SIGTERM; return what was missed and unused."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with running_mock(
            loaded,
            bus,
            rules=options.rules,
            speed=options.speed,
            host=options.host,
            port=options.port,
            allow_hosts=options.allow_hosts,
            limits=options.limits,
            ask_timeout=options.ask_timeout,
            strict=options.strict,
            faults=options.faults,
            spy=options.spy,
        ) as mock:
            count = sum(1 for i in loaded.server.interactions if i.response is not None)
            pace = "at once (--fast)" if options.speed is None else f"at {options.speed:g}x"
            out.write(
                banner(
                    f"mcp-tap serving {count} recorded interactions, {pace}",
                    f"point your client at {mock.url}",
                    out=out,
                )
            )
            for note in mock.notes:
                out.write(f"mcp-tap: note: {visible(note)}\n")
            if options.spy is not None:
                out.write(f"mcp-tap: {_forwarding(options.spy)}\n")
            out.flush()
            await stop.wait()
            return mock.report
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def _forwarding(spy: Spy) -> str:
    learning = ", appending them to the recording" if spy.learn_to else ""
    return f"forwarding misses to {spy.label}{learning}"
