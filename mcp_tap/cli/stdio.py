"""`mcp-tap stdio -- COMMAND...`: wrap a stdio server's command, as a host would launch it.

The host talks to mcp-tap as if it were the server, so stdout belongs to the server alone:
there is no console view here. The checkers (tracker, wire, lifecycle, id and 2026-07-28
checks) still run, so the recording holds their findings, and `mcp-tap show` of the
recording gives the view. `--web [PORT]` serves the live web view on the relay's event
loop; its URL goes to stderr. Its resend goes to the relayed server itself, through the
relay's `SideCalls`: its answer and progress never reach the host (what the server asks the
client meanwhile, or logs, carries no mark of it and does).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from mcp_tap.analysis.bounded import DEFAULT_JUDGE_MEMORY
from mcp_tap.analysis.conformance import conformance_checkers
from mcp_tap.analysis.pins import Pins
from mcp_tap.analysis.schema_checks import SchemaChecker
from mcp_tap.analysis.tracker import ProgressTracker
from mcp_tap.analysis.wire_checks import WireChecker
from mcp_tap.cli.common import UserError, check_record_path, environment_names, run_async
from mcp_tap.cli.faults import add_fault_options, fault_plan
from mcp_tap.cli.options import (
    Commands,
    add_command,
    add_judge_options,
    add_pins_option,
    add_recording_options,
    judge_memory,
    pins_from,
)
from mcp_tap.cli.subscribers import fail_on_exit, fail_on_gate, open_recorder, redaction_rules
from mcp_tap.cli.web import (
    StdioResender,
    add_web_option,
    max_events,
    web_session,
    web_store,
)
from mcp_tap.protocol.events import Subscriber
from mcp_tap.protocol.lines import DEFAULT_MAX_LINE
from mcp_tap.protocol.redaction import RedactionRules
from mcp_tap.recording.launch import is_launch_pattern, launch_path
from mcp_tap.recording.writer import RecordingWriter, StdioOrigin, utc_now
from mcp_tap.stdio.command import program_name
from mcp_tap.stdio.relay import (
    DEFAULT_DRAIN,
    DEFAULT_GRACE,
    DEFAULT_TERM_GRACE,
    StdioOptions,
    StdioRelay,
)
from mcp_tap.stdio.side_calls import SideCalls
from mcp_tap.tap.bus import TapBus
from mcp_tap.tap.stdio import MAX_BACKLOG, StdioTap


def register(commands: Commands) -> None:
    """Add `mcp-tap stdio` and its flags."""
    stdio = add_command(
        commands,
        "stdio",
        run,
        "run a stdio server's command, relay its stdin/stdout and record what crosses",
        "Run COMMAND as a host would, relaying stdin and stdout byte for byte "
        "and recording what crosses. Nothing of mcp-tap's own goes to stdout.",
        "stdio --record /tmp/my-server.yaml -- uvx my-server",
        "stdio --record '~/recordings/{name}-{time}-{pid}.yaml' -- uvx my-server",
        "stdio --no-record -- python -m demo_server --stdio",
    )
    add_recording_options(
        stdio,
        "write the recording here; {name}, {time} and {pid} make a new file per launch, and "
        "so does a folder ('DIR/': DIR/{name}-{time}-{pid}.yaml) (default: "
        "recordings/<UTC time>-stdio-<program>.yaml under the current directory)",
        headers=False,
    )
    add_judge_options(stdio)
    add_pins_option(stdio)
    add_fault_options(stdio)
    add_web_option(stdio)
    stdio.add_argument(
        "--max-line",
        type=int,
        default=DEFAULT_MAX_LINE,
        metavar="BYTES",
        help=f"forward longer lines without inspecting them (default {DEFAULT_MAX_LINE})",
    )
    stdio.add_argument(
        "--max-backlog",
        type=int,
        default=MAX_BACKLOG,
        metavar="BYTES",
        help="bytes that may wait undecoded while a burst crosses; past it, the next read "
        f"waits for the decoding (default {MAX_BACKLOG})",
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
        help="after the SIGTERM sent after --grace, or a SIGINT or SIGTERM sent to mcp-tap "
        "and passed on, wait this long for the server to exit before SIGKILL "
        f"(default {DEFAULT_TERM_GRACE:g})",
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
        "--host-entry",
        metavar="NAME",
        help="the host config entry this command stands for (written by `mcp-tap hosts wrap`, "
        "which finds its entries by it): {name} in a --record pattern",
    )
    # wrap's note that the entry had no `args` of its own, so unwrap removes them again
    stdio.add_argument("--host-entry-had-no-args", action="store_true", help=argparse.SUPPRESS)
    stdio.add_argument(
        "--fail-on",
        choices=("error", "warning"),
        help="exit 1 when the server exited 0 but findings of this severity or worse (or "
        "faults) were seen; without it mcp-tap exits with the server's status",
    )
    stdio.add_argument(
        "command_words",
        nargs=argparse.REMAINDER,
        metavar="-- COMMAND [ARGS...]",
        help="the server's command, after `--`",
    )


def run(args: argparse.Namespace) -> int:
    """`mcp-tap stdio`: relay one run of the server; its exit status."""
    command = split_command(args.command_words)
    if not command:
        raise UserError("stdio needs the server's command: mcp-tap stdio [OPTIONS] -- COMMAND")
    if command[0].startswith("-"):
        raise UserError(f"unknown option {command[0]!r}; put the server's command after `--`")
    if args.max_line < 1:
        raise UserError("--max-line must be at least 1")
    if args.max_backlog < 1:
        raise UserError("--max-backlog must be at least 1")
    if not all(value >= 0 for value in (args.grace, args.term_grace, args.drain)):  # NaN too
        raise UserError("--grace, --term-grace and --drain must not be negative")
    faults = fault_plan(args, "stdio")
    side = SideCalls(args.max_line) if args.web is not None else None
    options = StdioOptions(
        command, args.max_line, args.grace, args.term_grace, args.drain, faults, side
    )
    pins = pins_from(args)
    memory = judge_memory(args)
    max_events(args)  # a bad value is one line before any file is made
    recorder = None
    if not args.no_record:
        rules = redaction_rules(args)
        origin = StdioOrigin(command, environment_names(), args.host_entry)
        if args.record is not None and is_launch_pattern(args.record):
            recorder = launch_recorder(
                args.record, args.host_entry or program_name(command), rules, origin
            )
        else:
            try:
                check_record_path(args)
                recorder = open_recorder(args.record, None, rules, args.force, origin, True)
            except UserError as error:  # a host must always get its server
                print(f"mcp-tap: not recording: {error}", file=sys.stderr)
        if recorder is not None:
            print(f"mcp-tap: recording to {recorder.path}", file=sys.stderr, flush=True)
    bus = TapBus()
    gate = fail_on_gate(args, bus)
    store = web_store(args, bus)

    async def relay() -> int:
        # stdout is the server's: the page's URL goes to stderr; the page ends with the server
        title = f"stdio: {program_name(command)}"
        resend = StdioResender(side) if side is not None else False
        async with web_session(args, store, None, title, sys.stderr, resend, optional=True):
            return await run_stdio(
                options, bus, recorder, judge=not args.no_check, pins=pins, memory=memory,
                max_backlog=args.max_backlog,
            )  # fmt: skip

    try:
        status = run_async(relay())
    finally:
        bus.close()  # the last events and their findings, delivered before the gate is read
        if recorder is not None and recorder.error is not None:
            print(f"mcp-tap: the recording stopped early: {recorder.error}", file=sys.stderr)
    # the server's own failure first: a host reads it; --fail-on speaks for a clean exit
    return status if status != 0 else fail_on_exit(gate)


def launch_recorder(
    pattern: str, name: str, rules: RedactionRules, origin: StdioOrigin
) -> RecordingWriter | None:
    """A new file for this launch; None, with a line on stderr, when it cannot be made.

    A host starts this command unattended: a recording that cannot be written must not keep
    its server from starting.
    """
    path = launch_path(pattern, name, utc_now(), os.getpid())
    try:
        return RecordingWriter(path, None, rules, stdio=origin, unique=True, separate_process=True)
    except OSError as error:
        print(f"mcp-tap: not recording: cannot create {path}: {error}", file=sys.stderr)
        return None


def split_command(words: Sequence[str]) -> list[str]:
    """The COMMAND after `--` (argparse keeps the separator in a REMAINDER)."""
    command = list(words)
    if command and command[0] == "--":
        command = command[1:]
    return command


def checkers(
    bus: TapBus,
    judge: bool = True,
    pins: Pins | None = None,
    memory: int = DEFAULT_JUDGE_MEMORY,
) -> list[Subscriber]:
    """The subscribers that turn events into findings, published on `bus` for the recorder.

    `judge=False` (`--no-check`): only the progress and wire checks. `pins`: the
    definitions the server is held to (`--pins`); `memory`: `--judge-memory`.
    """
    cheap: list[Subscriber] = [ProgressTracker(bus.publish), WireChecker(bus.publish)]
    if not judge:
        return cheap
    judges = [SchemaChecker(bus.publish, memory), *conformance_checkers(bus.publish, pins, memory)]
    return [*cheap, *judges]


async def run_stdio(
    options: StdioOptions,
    bus: TapBus,
    recorder: RecordingWriter | None = None,
    judge: bool = True,
    pins: Pins | None = None,
    memory: int = DEFAULT_JUDGE_MEMORY,
    max_backlog: int = MAX_BACKLOG,
) -> int:
    """Relay one run of the command; its exit status. The caller closes the bus."""
    for subscriber in checkers(bus, judge, pins, memory):
        bus.subscribe(subscriber)
    if recorder is not None:
        bus.subscribe(recorder)
    tap = StdioTap(bus, program_name(options.command), options.max_line)
    tap.max_backlog = max_backlog
    if recorder is not None:  # what the tap waits for, the writer process waits for too
        recorder.hold_while(tap.crossing)
    return await StdioRelay(options, tap).run()
