"""`mcp-tap serve`: a recording stands in for its server until Ctrl-C, then a summary."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TextIO

from mcp_tap.http.limits import DEFAULT_LIMITS, Limits
from mcp_tap.serve.matching import MatchRules
from mcp_tap.serve.run import LoadedRecordings, ServeReport, running_mock
from mcp_tap.tap.bus import TapBus


@dataclass
class ServeOptions:
    """What `mcp-tap serve` was asked to do."""

    host: str = "127.0.0.1"
    port: int = 8000
    speed: float | None = 1.0  # None: --fast
    rules: MatchRules = field(default_factory=MatchRules)
    allow_hosts: Sequence[str] = ()
    limits: Limits = DEFAULT_LIMITS


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
        ) as mock:
            count = sum(1 for i in loaded.server.interactions if i.response is not None)
            pace = "at once (--fast)" if options.speed is None else f"at {options.speed:g}x"
            out.write(
                f"mcp-tap serving {count} recorded interactions, {pace} - point your client "
                f"at {mock.url}\n"
            )
            for note in mock.notes:
                out.write(f"mcp-tap: note: {note}\n")
            out.flush()
            await stop.wait()
            return mock.report
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
