"""`mcp-tap proxy`: listen on loopback, forward to the target, publish what crosses.

`register` adds the command and its flags, `run` turns them into `ProxyOptions` and the
session's subscribers; `run_proxy` and `run_forward_proxy` (which tests call directly) serve.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from mcp_tap.cli.ca import forward_ca
from mcp_tap.cli.common import (
    UserError,
    banner,
    check_record_path,
    checked_port,
    checked_target,
    run_async,
    until_signalled,
)
from mcp_tap.cli.faults import add_fault_options, fault_plan
from mcp_tap.cli.options import (
    Commands,
    add_ca_dir,
    add_ca_name_constraints,
    add_command,
    add_fail_on,
    add_judge_options,
    add_limit_options,
    add_otlp_options,
    add_pins_option,
    add_recording_options,
    add_view_options,
    check_otlp_options,
    checked_limits,
    judge_memory,
    pins_from,
)
from mcp_tap.cli.subscribers import (
    fail_on_exit,
    fail_on_gate,
    otlp_subscriber,
    recorder_for,
    view_subscribers,
)
from mcp_tap.cli.web import add_web_option, max_events, web_session, web_store
from mcp_tap.faults import FaultPlan
from mcp_tap.http.ca import LocalCA
from mcp_tap.http.forward import ForwardProxy
from mcp_tap.http.front import serving_requests
from mcp_tap.http.guard import is_loopback
from mcp_tap.http.limits import DEFAULT_LIMITS, Limits
from mcp_tap.http.proxy import client_url, running_proxy
from mcp_tap.protocol.secrets import redact_url
from mcp_tap.recording.writer import FORWARD_TARGET, RecordingWriter
from mcp_tap.tap.bus import LIVE_GATHER, TapBus

__all__ = [
    "ProxyOptions",
    "client_url",
    "register",
    "run",
    "run_forward_proxy",
    "run_proxy",
    "running_proxy",
    "target_or_demo",
]


@dataclass
class ProxyOptions:
    """What `mcp-tap proxy` was asked to do."""

    target: str | None = None  # None: start the bundled demo server and proxy to it
    host: str = "127.0.0.1"
    port: int = 8890
    allow_hosts: Sequence[str] = ()  # Host names accepted besides loopback and --host
    limits: Limits = DEFAULT_LIMITS
    forward: bool = False  # a forward proxy for any host; allow_hosts: the hosts it reads
    faults: FaultPlan | None = None  # --fault rules to perform (reverse proxy only)


def register(commands: Commands) -> None:
    """Add `mcp-tap proxy` and its flags."""
    proxy = add_command(
        commands,
        "proxy",
        run,
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
    add_ca_name_constraints(proxy)
    add_fail_on(proxy)
    add_judge_options(proxy)
    add_pins_option(proxy)
    add_limit_options(proxy)
    add_recording_options(proxy)
    add_otlp_options(proxy)
    add_view_options(proxy)
    add_fault_options(proxy)
    add_web_option(proxy)


def run(args: argparse.Namespace) -> int:
    """`mcp-tap proxy`: serve until Ctrl-C; the --fail-on exit code."""
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
        faults=fault_plan(args, "http"),
    )
    if options.faults is not None and args.forward:
        raise UserError("--fault applies to a reverse proxy (--target) for now, not --forward")
    if args.ca_name_constraints and not args.forward:
        raise UserError("--ca-name-constraints applies to --forward only")
    ca = forward_ca(args, options.limits.max_certs) if args.forward else None
    check_record_path(args)
    check_otlp_options(args)
    judge_memory(args)  # a bad value is one line before any file is made
    max_events(args)
    pins = pins_from(args)
    if not is_loopback(args.host):
        print(
            f"mcp-tap: warning: listening on {args.host}, not loopback: other machines can "
            "reach the proxy and, through it, the server",
            file=sys.stderr,
        )
    bus = TapBus(gather=LIVE_GATHER)
    info = sys.stderr if args.jsonl else sys.stdout  # keep a JSON-lines stdout pure
    recorders: list[RecordingWriter] = []

    gate = fail_on_gate(args, bus)

    def start_session() -> None:
        # Only once the proxy listens: a failed start leaves no recording and no summary.
        recorder = recorder_for(args, FORWARD_TARGET if ca is not None else None)
        if recorder is not None:
            recorders.append(recorder)
            recorder.hold_while(bus.flowing)  # while traffic floods, the writer waits
            bus.subscribe(recorder)
            print(f"mcp-tap: recording to {recorder.path}", file=info, flush=True)
        for subscriber in view_subscribers(args, bus, pins=pins):
            bus.subscribe(subscriber)
        traces = otlp_subscriber(args, bus, args.target or "demo")
        if traces is not None:
            bus.subscribe(traces)

    store = web_store(args, bus)

    async def serve() -> None:
        title = args.target or ("forward proxy" if ca is not None else "demo")
        async with web_session(args, store, args.target, title, info):
            if ca is not None:
                await run_forward_proxy(options, ca, bus, out=info, on_listening=start_session)
            else:
                await run_proxy(options, bus, out=info, on_listening=start_session)

    try:
        run_async(serve())
    finally:
        bus.close()
        for recorder in recorders:
            if recorder.error is not None:
                print(f"mcp-tap: the recording stopped early: {recorder.error}", file=sys.stderr)
    return fail_on_exit(gate)


@contextlib.asynccontextmanager
async def target_or_demo(target: str | None) -> AsyncIterator[str]:
    """The given target URL, or the URL of a demo server started for the occasion."""
    if target is not None:
        yield target
        return
    from demo_server.runner import running_demo_server

    async with running_demo_server() as base_url:
        yield base_url + "/mcp"


@contextlib.asynccontextmanager
async def running_forward_proxy(
    bus: TapBus,
    ca: LocalCA,
    host: str = "127.0.0.1",
    port: int = 0,
    intercept: Sequence[str] = (),
    limits: Limits = DEFAULT_LIMITS,
    on_closing: Callable[[int], None] | None = None,
) -> AsyncIterator[str]:
    """Serve a forward proxy in the background; yield its URL (what HTTPS_PROXY names)."""
    proxy = ForwardProxy(bus, ca, intercept, limits)
    try:
        async with serving_requests(proxy, host, port, limits, on_closing) as base_url:
            yield base_url
    finally:
        await proxy.aclose()


def forward_environment(proxy_url: str, ca_cert: Path, bundle: Path) -> str:
    """The variables a client's environment needs to go through the forward proxy."""
    return (
        f"HTTPS_PROXY={proxy_url} HTTP_PROXY={proxy_url} NO_PROXY= "
        f"SSL_CERT_FILE={bundle} NODE_EXTRA_CA_CERTS={ca_cert}"
    )


async def run_forward_proxy(
    options: ProxyOptions,
    ca: LocalCA,
    bus: TapBus,
    out: TextIO = sys.stdout,
    on_listening: Callable[[], None] | None = None,
) -> None:
    """`mcp-tap proxy --forward`, until SIGINT or SIGTERM."""
    bundle = ca.write_bundle()
    async with until_signalled() as stop:
        async with running_forward_proxy(
            bus,
            ca,
            options.host,
            options.port,
            options.allow_hosts,
            options.limits,
            _say_closing,
        ) as base_url:
            if on_listening is not None:
                on_listening()
            reads = ", ".join(options.allow_hosts) if options.allow_hosts else "every host"
            out.write(
                f"mcp-tap forward proxy listening on {base_url} - reading {reads}\n"
                f"set in the client's environment:\n"
                f"  {forward_environment(base_url, ca.cert_path, bundle)}\n"
            )
            out.flush()
            await stop.wait()


def _say_closing(streams: int) -> None:
    print(f"mcp-tap: closing {streams} open streams", file=sys.stderr, flush=True)


async def run_proxy(
    options: ProxyOptions,
    bus: TapBus,
    out: TextIO = sys.stdout,
    on_listening: Callable[[], None] | None = None,
) -> None:
    """Run until SIGINT or SIGTERM, then shut down cleanly.

    `on_listening` is called once the proxy listens: what only a running session should
    create (the recording file, the view and its summary) starts there, so a failed start
    leaves nothing behind.
    """
    async with until_signalled() as stop, target_or_demo(options.target) as target:
        async with running_proxy(
            target,
            bus,
            options.host,
            options.port,
            options.allow_hosts,
            options.limits,
            _say_closing,
            faults=options.faults,
        ) as base_url:
            if on_listening is not None:
                on_listening()
            out.write(
                banner(
                    f"mcp-tap listening on {base_url}",
                    f"point your client at {redact_url(client_url(base_url, target))}",
                    f"forwarding to {redact_url(target)}",
                    out=out,
                )
            )
            out.flush()
            await stop.wait()
