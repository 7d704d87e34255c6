"""`mcp-tap show`: a recording printed as the live proxy would show it, or a part of it.

With --follow it is the live view of a recording still being written (`cli.follow`), or
of every recording written in a folder (`cli.follow_folder`).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any

from rich.console import Console

from mcp_tap.analysis.select import Selection, call_events, pick_events
from mcp_tap.cli.common import UserError, warn
from mcp_tap.cli.follow import run_follow
from mcp_tap.cli.follow_folder import DEFAULT_MAX_FOLLOW, is_folder, run_follow_folder
from mcp_tap.cli.options import RECORDING_FILE, Commands, add_command, add_fail_on, add_view_options
from mcp_tap.cli.subscribers import fail_on_exit, fail_on_gate, view_subscribers
from mcp_tap.cli.web import add_web_option
from mcp_tap.protocol.events import TapEvent
from mcp_tap.protocol.redaction import RedactionRules, Redactor
from mcp_tap.recording.reader import open_recording, started_epoch
from mcp_tap.tap.bus import TapBus
from mcp_tap.view.recording_facts import (
    RecordingFacts,
    events_detail,
    exchange_detail,
    recording_header,
)


def register(commands: Commands) -> None:
    """Add `mcp-tap show` and its flags."""
    show = add_command(
        commands,
        "show",
        run,
        "show a recording as the live proxy would",
        "Print a recording with the same lines, bars, findings and summary as the live view.",
        "show recordings/download_file-handshake.yaml",
        "show session.yaml --filter 'tools/call' -v",
        "show session.yaml --call 3",
        "show session.yaml --jsonl | jq .",
        "show --follow ~/.local/share/mcp-tap/recordings/",
    )
    show.add_argument(
        "file",
        metavar="FILE.yaml",
        help=f"{RECORDING_FILE}; with --follow also a folder of them",
    )
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
    whole = show.add_argument_group("one part whole")
    whole.add_argument(
        "--call",
        type=int,
        metavar="N",
        help="print call N whole: its request, progress and answer, its findings, and the "
        "HTTP heads that carried it. Calls are a recording's requests counted from 1, as "
        "serve, replay, check, report and export name them",
    )
    whole.add_argument(
        "--exchange",
        type=int,
        metavar="N",
        help="print HTTP exchange N whole (one POST or GET stream, which may carry several "
        "calls or none): headers, bodies, times",
    )
    live = show.add_argument_group("following a recording being written")
    live.add_argument(
        "--follow",
        action="store_true",
        help="show events as they are written, until the writer finishes (or Ctrl-C); "
        "waits for the file to appear. A folder (or a path ending in /): every recording "
        "written in it, each line labelled with its server, until Ctrl-C; those already "
        "finished are left out",
    )
    live.add_argument(
        "--since-now",
        action="store_true",
        help="with --follow: only events written from now on (a finished file: says so, exit 0)",
    )
    live.add_argument(
        "--max-follow",
        type=int,
        default=DEFAULT_MAX_FOLLOW,
        metavar="N",
        help="with --follow DIR: recordings followed at once; the next wait for one to finish "
        f"(default {DEFAULT_MAX_FOLLOW})",
    )
    add_view_options(show)
    add_web_option(show)  # with --follow


def run(args: argparse.Namespace) -> int:
    """Print the recording (or the selection, or one call or exchange); 1 when nothing matched."""
    if args.follow:
        return run_follow_folder(args) if is_folder(args.file) else run_follow(args)
    if args.since_now:
        raise UserError("--since-now goes with --follow")
    if args.web is not None:
        raise UserError("--web goes with --follow; `mcp-tap web FILE` serves a finished recording")
    # Read twice, never held: a first pass checks the whole file and counts what the
    # header line says, the second shows the events.
    recording = open_recording(args.file)
    facts = RecordingFacts.of(recording)
    warn(recording)
    rules = recorded_rules(recording.header)
    redact = Redactor(rules, sessions=False)  # a file from an older, laxer policy too
    console = Console(stderr=True) if args.jsonl else Console()
    header = dict(recording.header)
    if "target" in header:
        header["target"] = redact.url(str(header["target"]))
    console.print(recording_header(args.file, header, facts))
    if args.call is not None and args.exchange is not None:
        raise UserError("--call and --exchange each print one part: give one of them")
    if args.call is not None:
        if not 1 <= args.call <= facts.calls:
            raise UserError(f"{args.file} has no call {args.call} ({facts.calls} in all)")
        console.print(events_detail(redact(e) for e in call_events(recording, args.call)))
        return 0
    if args.exchange is not None:
        if args.exchange not in facts.exchanges:
            raise UserError(
                f"{args.file} has no exchange {args.exchange} ({len(facts.exchanges)} in all)"
            )
        console.print(exchange_detail(args.exchange, (redact(e) for e in recording)))
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
        console.print(f"{len(kept)} of {facts.calls} calls match", style="dim")
        if not kept:
            return 1  # like grep: nothing matched
    bus = TapBus()
    gate = fail_on_gate(args, bus)
    started = started_epoch(recording.header)
    view = view_subscribers(args, bus, recorded=True, started_at=started, redaction=rules)
    for subscriber in view:
        bus.subscribe(subscriber)
    try:
        for event in events:
            bus.publish(event)  # no event loop here: delivered at once, in order
    finally:
        bus.close()
    return fail_on_exit(gate)


def recorded_rules(header: dict[str, Any]) -> RedactionRules:
    """The rules a recording was written with, for showing it: the built-in ones unless it
    was made with `--no-redact`, and its `--redact-header` names."""
    redaction = header.get("redaction")
    if not isinstance(redaction, dict):
        return RedactionRules()
    headers = redaction.get("headers")
    names = [str(name) for name in headers] if isinstance(headers, list) else []
    return RedactionRules.from_options(redaction.get("builtin") is not False, names)
