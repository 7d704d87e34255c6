"""The stdio tap decodes a burst after it has crossed, never while its bytes still wait.

Quiet pipes are not enough: a relay held up for a millisecond (its core taken by another
process) sees no new chunk, yet the burst is not over while bytes wait in a pipe. The tap
asks the carrier (`relaying`) before it decodes.
"""

from __future__ import annotations

import asyncio

import pytest

import mcp_tap.tap.stdio as stdio_tap
from mcp_tap.protocol.events import MessageSeen, TapEvent
from mcp_tap.tap.bus import TapBus
from mcp_tap.tap.stdio import StdioTap
from tests.inproc import Asked

PROGRESS = (
    b'{"jsonrpc":"2.0","method":"notifications/progress",'
    b'"params":{"progressToken":1,"progress":1}}\n'
)


class Seen:
    def __init__(self) -> None:
        self.events: list[TapEvent] = []
        self.message = asyncio.Event()

    def handle(self, event: TapEvent) -> None:
        self.events.append(event)
        if isinstance(event, MessageSeen):
            self.message.set()

    def close(self) -> None:
        pass


async def _burst_then_quiet() -> tuple[int, list[TapEvent]]:
    """Whether anything was decoded while the carrier said bytes wait, then what was."""
    bus = TapBus()
    seen = Seen()
    bus.subscribe(seen)
    tap = StdioTap(bus, "server")
    relaying = Asked(True)
    tap.relaying = relaying
    tap.server_chunk(PROGRESS)
    await asyncio.wait_for(relaying.asked.wait(), 10)  # the pipes went quiet five times over
    decoded_meanwhile = sum(isinstance(event, MessageSeen) for event in seen.events)
    relaying.answer = False
    await asyncio.wait_for(seen.message.wait(), 10)
    return decoded_meanwhile, seen.events


def test_nothing_is_decoded_while_bytes_wait_to_cross(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stdio_tap, "MAX_DELAY", 60.0)  # the backstop: not what is tested here
    decoded_meanwhile, events = asyncio.run(_burst_then_quiet())
    assert decoded_meanwhile == 0
    messages = [event for event in events if isinstance(event, MessageSeen)]
    assert [m.message.method for m in messages] == ["notifications/progress"]


def test_a_chunk_that_waited_max_delay_is_decoded_even_mid_burst(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stdio_tap, "MAX_DELAY", 0.0)  # a never-ending burst is still inspected

    async def run() -> list[TapEvent]:
        bus = TapBus()
        seen = Seen()
        bus.subscribe(seen)
        tap = StdioTap(bus, "server")
        tap.relaying = lambda: True
        tap.server_chunk(PROGRESS)
        await asyncio.wait_for(seen.message.wait(), 10)
        return seen.events

    assert any(isinstance(event, MessageSeen) for event in asyncio.run(run()))
