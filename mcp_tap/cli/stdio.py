"""`mcp-tap stdio -- COMMAND...`: wrap a stdio server's command, as a host would launch it.

The host talks to mcp-tap as if it were the server, so stdout belongs to the server alone:
there is no live view here. The checkers (tracker, wire checks) still run, so the recording
holds their findings, and `mcp-tap show` of the recording gives the view.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from mcp_tap.analysis.tracker import ProgressTracker
from mcp_tap.analysis.wire_checks import WireChecker
from mcp_tap.protocol.events import Subscriber
from mcp_tap.recording.writer import RecordingWriter
from mcp_tap.stdio.command import program_name
from mcp_tap.stdio.relay import StdioOptions, StdioRelay
from mcp_tap.tap.bus import TapBus
from mcp_tap.tap.stdio import StdioTap


def split_command(words: Sequence[str]) -> list[str]:
    """The COMMAND after `--` (argparse keeps the separator in a REMAINDER)."""
    command = list(words)
    if command and command[0] == "--":
        command = command[1:]
    return command


def checkers(bus: TapBus) -> list[Subscriber]:
    """The subscribers that turn events into findings, published on `bus` for the recorder."""
    return [ProgressTracker(bus.publish), WireChecker(bus.publish)]


async def run_stdio(
    options: StdioOptions, bus: TapBus, recorder: RecordingWriter | None = None
) -> int:
    """Relay one run of the command; its exit status. The caller closes the bus."""
    for subscriber in checkers(bus):
        bus.subscribe(subscriber)
    if recorder is not None:
        bus.subscribe(recorder)
    tap = StdioTap(bus, program_name(options.command), options.max_line)
    return await StdioRelay(options, tap).run()


def environment_names() -> list[str]:
    """The names the server's environment holds (it inherits ours); never the values."""
    return sorted(os.environ)
