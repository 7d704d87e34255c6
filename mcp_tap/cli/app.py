"""The `mcp-tap` command line: parse arguments, call the library, turn errors into one line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from mcp_tap.analysis.select import Selection, exchange_ids, select_events
from mcp_tap.cli.common import (
    UserError,
    check_record_path,
    checked_port,
    checked_target,
    environment_names,
    loaded_recording,
    name_values,
    report_verdicts,
    run_async,
    write_output,
)
from mcp_tap.cli.follow import follow_recording
from mcp_tap.cli.options import (
    UPSTREAM_LIMITS,
    add_ca_dir,
    add_fail_on,
    add_limit_options,
    add_otlp_options,
    add_pace,
    add_record_path,
    add_recording_options,
    add_view_options,
    ca_dir,
    check_otlp_options,
    checked_limits,
)
from mcp_tap.cli.proxy import ProxyOptions, run_forward_proxy, run_proxy
from mcp_tap.cli.stdio import run_stdio, split_command
from mcp_tap.cli.subscribers import (
    fail_on_exit,
    fail_on_gate,
    open_recorder,
    otlp_subscriber,
    recorder_for,
    view_subscribers,
)
from mcp_tap.http.ca import CAError, load_or_create_ca
from mcp_tap.http.guard import is_loopback
from mcp_tap.http.serving import PortInUse
from mcp_tap.protocol.events import ExchangeOpened, Subscriber
from mcp_tap.protocol.lines import DEFAULT_MAX_LINE
from mcp_tap.recording.reader import Recording, RecordingError, load_recording
from mcp_tap.recording.redact import RedactionRules
from mcp_tap.recording.writer import (
    FORWARD_TARGET,
    RecordingWriter,
    StdioOrigin,
    mcp_tap_version,
)
from mcp_tap.replay.junit import write_junit
from mcp_tap.replay.marks import divergence_findings
from mcp_tap.replay.replayer import ReplayError
from mcp_tap.replay.run import ReplayOptions, exit_code, replay
from mcp_tap.replay.stdio_replayer import split_command as split_server_command
from mcp_tap.serve.matching import MatchRules
from mcp_tap.serve.run import LoadedRecordings, load_recordings, run_stdio_mock
from mcp_tap.stdio.relay import DEFAULT_DRAIN, DEFAULT_GRACE, DEFAULT_TERM_GRACE, StdioOptions
from mcp_tap.tap.bus import TapBus
from mcp_tap.view.recording_facts import exchange_detail, recording_header

EXIT_BAD_INPUT = 2
FOLLOW_FPS = 30.0  # a follower adds the writer's batching to its delay: frames come sooner
EXPORT_FORMATS = ("har", "jsonl", "otlp")


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
    add_ca_dir(proxy)
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
    add_fail_on(proxy)
    add_limit_options(proxy)
    add_recording_options(proxy)
    add_otlp_options(proxy)
    add_view_options(proxy)

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
    add_ca_dir(ca)

    stdio = _command(
        commands,
        "stdio",
        "run a stdio server's command, relay its stdin/stdout and record what crosses",
        "Run COMMAND as a host would, relaying stdin and stdout byte for byte "
        "and recording what crosses. Nothing of mcp-tap's own goes to stdout.",
        "stdio --record /tmp/my-server.yaml -- uvx my-server",
        "stdio --no-record -- python -m demo_server --stdio",
    )
    add_recording_options(stdio)
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
    add_fail_on(show)
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
    add_view_options(show)
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
    add_pace(replay, "send each message as soon as causality allows")
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
    add_record_path(replay, "record the replay itself here")
    add_otlp_options(replay)
    add_view_options(replay)

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
    add_pace(serve, "send every recorded message at once")
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
    add_record_path(serve, "record the mock's own session here")
    serve.add_argument(
        "--stdio",
        action="store_true",
        help="be a stdio server (for hosts): requests on stdin, answers on stdout, "
        "nothing else on stdout; the summary goes to stderr",
    )
    add_limit_options(serve, skip=UPSTREAM_LIMITS)
    add_otlp_options(serve)
    add_view_options(serve)

    demo = _command(
        commands,
        "demo",
        "demo server + proxy + scripted clients, then a replay of the recording",
        "Start the bundled demo server and a recording proxy, drive scripted clients through "
        "it, then replay the recording against a fresh demo server and print the verdict.",
        "demo",
        "demo --record /tmp/demo.yaml --force -q",
    )
    add_record_path(
        demo, "where to write the demo's recording (default: recordings/<UTC time>-demo.yaml)"
    )
    add_view_options(demo)

    return parser


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


def _ca(args: argparse.Namespace) -> int:
    ca, created = load_or_create_ca(ca_dir(args), regenerate=args.regenerate)
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
        limits=checked_limits(args),
        forward=args.forward,
    )
    ca = (
        load_or_create_ca(ca_dir(args), max_certs=options.limits.max_certs)[0]
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

    gate = fail_on_gate(args, bus)

    def start_session() -> None:
        # Only once the proxy listens: a failed start leaves no recording and no summary.
        recorder = recorder_for(args, FORWARD_TARGET if ca is not None else None)
        if recorder is not None:
            recorders.append(recorder)
            bus.subscribe(recorder)
            print(f"mcp-tap: recording to {recorder.path}", file=info, flush=True)
        for subscriber in view_subscribers(args, bus):
            bus.subscribe(subscriber)
        traces = otlp_subscriber(args, bus, args.target or "demo")
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
    return fail_on_exit(gate)


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
        recorder = open_recorder(args.record, None, rules, args.force, origin)
        print(f"mcp-tap: recording to {recorder.path}", file=sys.stderr, flush=True)
    bus = TapBus()
    try:
        return run_async(run_stdio(options, bus, recorder))
    finally:
        bus.close()
        if recorder is not None and recorder.error is not None:
            print(f"mcp-tap: the recording stopped early: {recorder.error}", file=sys.stderr)


def _show(args: argparse.Namespace) -> int:
    if args.follow:
        return _follow(args)
    if args.since_now:
        raise UserError("--since-now goes with --follow")
    recording = load_recording(args.file)
    for warning in recording.warnings:
        print(f"mcp-tap: warning: {warning}", file=sys.stderr)
    console = Console(stderr=True) if args.jsonl else Console()
    console.print(recording_header(args.file, recording.header, recording.events))
    if args.exchange is not None:
        opened = {e.exchange_id for e in recording.events if isinstance(e, ExchangeOpened)}
        if args.exchange not in opened:
            raise UserError(f"{args.file} has no exchange {args.exchange} ({len(opened)} in all)")
        console.print(exchange_detail(args.exchange, recording.events))
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
    events = select_events(recording.events, selection)
    if selection:
        total, kept = exchange_ids(recording.events), exchange_ids(events)
        console.print(f"{len(kept)} of {len(total)} exchanges match", style="dim")
        if not kept:
            return 1  # like grep: nothing matched
    bus = TapBus()
    gate = fail_on_gate(args, bus)
    started = started_epoch(recording.header)
    for subscriber in view_subscribers(args, bus, recorded=True, started_at=started):
        bus.subscribe(subscriber)
    try:
        for event in events:
            bus.publish(event)  # no event loop here: delivered at once, in order
    finally:
        bus.close()
    return fail_on_exit(gate)


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
    gate = fail_on_gate(args, bus)
    for subscriber in view_subscribers(args, bus, recorded=True, fps=FOLLOW_FPS):
        bus.subscribe(subscriber)
    try:
        run_async(follow_recording(Path(args.file), bus, args.since_now))
    finally:
        bus.close()
    return fail_on_exit(gate)


def _export(args: argparse.Namespace) -> int:
    if args.format not in EXPORT_FORMATS:
        raise UserError(
            f"unknown --format {args.format!r}; choose one of {', '.join(EXPORT_FORMATS)}"
        )
    from mcp_tap.export.formats import export_text

    write_output(args.output, export_text(loaded_recording(args.file), args.format))
    return 0


def _write_report(args: argparse.Namespace) -> int:
    from mcp_tap.export.report import render_report

    write_output(args.output, render_report(loaded_recording(args.file)))
    return 0


def _replay(args: argparse.Namespace) -> int:
    recording = load_recording(args.file)
    for warning in recording.warnings:
        print(f"mcp-tap: warning: {warning}", file=sys.stderr)
    headers = name_values(args.header, "--header")
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
            bus.subscribe(open_recorder(args.record, args.target, rules, args.force, origin))
        for subscriber in view_subscribers(args, bus):
            bus.subscribe(subscriber)
        traces = otlp_subscriber(args, bus, args.target or "demo")
        if traces is not None:
            bus.subscribe(traces)

    try:
        verdicts, seconds = run_async(replay(recording.events, options, bus, start_session))
    finally:
        bus.close()
    report_verdicts(args, verdicts)
    if args.junit:
        write_junit(Path(args.junit), Path(args.file).stem, verdicts, seconds)
    if args.report:
        from mcp_tap.export.report import render_report  # only a report pays for its import

        # The recording's page, each divergence marked on its request as a finding.
        events = sorted([*recording.events, *divergence_findings(verdicts)], key=lambda e: e.time)
        marked = Recording(recording.header, events, list(recording.warnings))
        write_output(args.report, render_report(marked))
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
        limits=checked_limits(args),
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
            open_recorder(args.record, "serve", RedactionRules.from_options(), args.force)
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
        return view_subscribers(args, bus)

    def replay_view(bus: TapBus) -> list[Subscriber]:
        return view_subscribers(argparse.Namespace(**{**vars(args), "quiet": True}), bus)

    from mcp_tap.cli.demo import run_demo  # imports the mcp client: only `demo` pays for it

    check_record_path(args)
    record = Path(args.record) if args.record else None
    verdicts = run_async(run_demo(console, record, live_view, replay_view, args.force))
    report_verdicts(args, verdicts)
    return exit_code(verdicts)


if __name__ == "__main__":
    sys.exit(main())
