"""`mcp-tap web REC...`, and `--web [PORT]` on `proxy`, `stdio`, `serve` and `show --follow`.

`register` adds the command; `add_web_option` the flag other commands share; `web_store` the
`CallStore` a live command feeds from its bus; `web_session` starts the page over it and
prints its URL (token included) once it listens. Resend goes through `HttpResender` (to an
HTTP target) or `StdioResender` (to the server `stdio` relays), the objects of replay the web
view is handed; the commands without a live server to send to give none.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import AsyncIterator, Sequence
from typing import Any, TextIO

from mcp_tap.analysis.calls import Call
from mcp_tap.cli.common import UserError, run_async, until_signalled, warn
from mcp_tap.cli.options import RECORDING_FILE, Commands, add_command
from mcp_tap.cli.subscribers import redaction_rules
from mcp_tap.protocol.events import TapEvent
from mcp_tap.recording.merge import ExchangeNumbers, Labels, Relabel, server_name
from mcp_tap.recording.reader import open_recording
from mcp_tap.replay.replayer import ReplayError
from mcp_tap.replay.resend import resend_call
from mcp_tap.replay.stdio_resend import resend_over_stdio
from mcp_tap.stdio.side_calls import SideCalls
from mcp_tap.tap.bus import TapBus
from mcp_tap.web.feed import DEFAULT_QUEUE
from mcp_tap.web.resend import Resender, ResendError
from mcp_tap.web.server import WebPortInUse, running_web
from mcp_tap.web.store import CallStore
from mcp_tap.web.window import DEFAULT_MAX_EVENTS

NOT_GIVEN = -1  # --web without a port: a free one


class HttpResender:
    """Sends a call again to `target` with replay's machinery (`replay.resend`)."""

    def __init__(self, target: str | None, headers: dict[str, str] | None = None) -> None:
        self.target = target
        self.headers = headers or {}

    async def resend(self, events: Sequence[TapEvent], number: int, params: Any) -> Call:
        if self.target is None:
            raise ResendError("no target to send to: give --target URL")
        try:
            return await resend_call(events, number, params, self.target, self.headers)
        except (ReplayError, ValueError, OSError) as error:
            raise ResendError(str(error)) from None


class StdioResender:
    """Sends a call again to the server `mcp-tap stdio` relays, kept from the host."""

    def __init__(self, calls: SideCalls) -> None:
        self.calls = calls

    async def resend(self, events: Sequence[TapEvent], number: int, params: Any) -> Call:
        try:
            return await resend_over_stdio(events, number, params, self.calls)
        except ReplayError as error:
            raise ResendError(str(error)) from None


def add_web_option(parser: argparse.ArgumentParser) -> None:
    """--web [PORT], --web-queue and --web-max-events: the page beside the console."""
    parser.add_argument(
        "--web",
        nargs="?",
        type=int,
        const=0,
        default=None,
        metavar="PORT",
        help="also serve the web view on 127.0.0.1 (PORT, or a free one); the URL, with its "
        "token, is printed at start",
    )
    add_queue_option(parser)


def add_queue_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--web-queue",
        type=int,
        default=DEFAULT_QUEUE,
        metavar="N",
        help=f"live updates a page may fall behind before they are skipped "
        f"(default {DEFAULT_QUEUE})",
    )
    parser.add_argument(
        "--web-max-events",
        type=int,
        default=DEFAULT_MAX_EVENTS,
        metavar="N",
        help="events the page keeps; past N the oldest calls are dropped whole "
        f"(default {DEFAULT_MAX_EVENTS:,})",
    )


def web_store(args: argparse.Namespace, bus: TapBus) -> CallStore:
    """The calls the page shows, fed by `bus` when --web asked for a page (else left empty)."""
    store = CallStore(redaction_rules(args), max_events(args))
    if getattr(args, "web", None) is not None:
        bus.subscribe(store)
    return store


def max_events(args: argparse.Namespace) -> int:
    """--web-max-events, checked."""
    if args.web_max_events < 1:
        raise UserError(f"--web-max-events must be at least 1, got {args.web_max_events}")
    return int(args.web_max_events)


@contextlib.asynccontextmanager
async def web_session(
    args: argparse.Namespace,
    store: CallStore,
    target: str | None,
    title: str,
    out: TextIO,
    resend: bool | Resender = True,
    optional: bool = False,
) -> AsyncIterator[None]:
    """The page over `store` while the block runs, when --web asked for it (or `web`).

    `out` gets the URL: stderr where stdout belongs to a protocol (`stdio`, `serve --stdio`).
    `resend`: True, calls go again to `target` over HTTP (`proxy`, `web`); a `Resender`, to
    it (`stdio`); False, the page sends none and says where resend works.
    `optional`: a page that cannot listen is a line on `out`, and the block runs without it
    (`stdio`: a host must always get its server).
    """
    port = getattr(args, "web", None)
    if port is None:
        yield
        return
    if not 0 <= port <= 65535:
        raise UserError(f"--web takes a port from 0 to 65535, got {port}")
    if args.web_queue < 1:
        raise UserError(f"--web-queue must be at least 1, got {args.web_queue}")
    resender: Resender | None = None
    if resend is True:
        resender = HttpResender(target)
    elif resend is not False:
        resender = resend
    async with contextlib.AsyncExitStack() as stack:
        try:
            page = running_web(store, port, resender, title, args.web_queue)
            url = await stack.enter_async_context(page)
        except WebPortInUse as error:
            if not optional:
                raise UserError(str(error)) from None
            print(f"mcp-tap: no web view ({error}); going on without it", file=out, flush=True)
        else:
            print(f"mcp-tap: web view at {url}", file=out, flush=True)
        yield


def register(commands: Commands) -> None:
    """Add `mcp-tap web` and its flags."""
    web = add_command(
        commands,
        "web",
        run,
        "browse recordings in a web page on 127.0.0.1",
        "Serve recordings as a web page on loopback: the calls (filterable), each call whole, "
        "progress charts, the summary and findings; a call can be sent again to --target.",
        "web session.yaml",
        "web session.yaml --target http://127.0.0.1:8000/mcp --port 8899",
    )
    web.add_argument("files", nargs="+", metavar="FILE.yaml", help=RECORDING_FILE)
    web.add_argument(
        "--port", type=int, default=0, help="listen port on 127.0.0.1; 0 picks a free one"
    )
    web.add_argument(
        "--target", help="where a call is sent again (default: the recording's target)"
    )
    add_queue_option(web)


def run(args: argparse.Namespace) -> int:
    """`mcp-tap web`: serve the recordings until Ctrl-C."""
    store = CallStore(redaction_rules(args), max_events(args))
    target: str | None = args.target
    labels, numbers = Labels(), ExchangeNumbers()
    for path in args.files:
        recording = open_recording(path)
        if target is None:
            recorded = recording.header.get("target")
            target = recorded if isinstance(recorded, str) and "://" in recorded else None
        relabel = Relabel(labels.label(server_name(recording.header)), numbers)
        for event in recording:
            store.handle(relabel(event) if len(args.files) > 1 else event)
        warn(recording)
    store.close()
    args.web = args.port
    title = ", ".join(args.files)

    async def serve() -> None:
        async with until_signalled() as stop, web_session(args, store, target, title, sys.stdout):
            await stop.wait()

    run_async(serve())
    return 0
