"""A recorded answer played on one stream: messages at their offsets, asks answered in turn.

Every carrier (the POST's SSE stream, the 2024-11-05 GET stream, stdio) plays a `Reply` the
same way: each message when its recorded offset comes (scaled by the speed; at once under
`--fast`), and each request the server sent the client (`Reply.asks`) sent with the mock's
own id, then the rest held until the client answers it. The recorded time the client took
is not replayed: what came after the answer keeps its recorded distance from the answer.
A request the recorded server sent on the standalone GET stream goes on the session's GET
stream when the carrier has one (`aside`), and the rest of the answer waits for it there.
An outlet may end an answer early (a `--fault` rule that drops, resets or hangs it): nothing
more of it is sent, and no ask waits for an answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from mcp_tap.protocol.events import StreamKind
from mcp_tap.serve.asks import AskBroker, AskContext
from mcp_tap.serve.matching import Miss
from mcp_tap.serve.replies import Reply


class Outlet(Protocol):
    """Where a played answer goes: messages, written when flushed, once the stream is ready."""

    async def put(self, message: dict[str, Any]) -> bool:
        """Queue one message (written by the next flush at the latest); False: the answer
        ended there (a fault rule stopped it), so nothing more of it is sent."""

    def flush(self) -> None:
        """Write what was queued."""

    async def ready(self) -> None:
        """Wait until the stream takes more (a client that reads slowly pauses it)."""


@dataclass
class Played:
    """How a played answer ended: when its response is due, and the miss a --strict ask made."""

    start: float  # loop time its offsets are now counted from
    miss: Miss | None = None
    stopped: bool = False  # the outlet ended the answer: its response is not sent


async def play(
    reply: Reply,
    speed: float | None,
    outlet: Outlet,
    broker: AskBroker,
    context: AskContext | None,
    aside: Callable[[], Awaitable[Outlet | None]] | None = None,
) -> Played:
    """Send `reply.items` (not its response) on `outlet`; the response is the carrier's.

    `aside` finds the stream for requests recorded on a GET stream (None: they go on `outlet`).
    """
    loop = asyncio.get_running_loop()
    played = Played(loop.time())
    for index, (offset, message) in enumerate(reply.items):
        await wait_until(played.start, offset, speed, outlet)
        ask = reply.asks.get(index)
        if ask is None or context is None:
            if not await outlet.put(message):
                played.stopped = True
                return played
            continue
        outgoing, own = broker.outgoing(ask)
        if aside is not None and ask.stream is StreamKind.GET_SSE:
            outlet.flush()  # what came before it leaves first, as it did
            stream = await aside()
            if stream is not None:
                await stream.ready()
            if stream is None or not await stream.put(outgoing):
                why = f"it opened no GET stream within {broker.timeout:g}s (--ask-timeout)"
                played.miss = played.miss or broker.unsent(own, ask, context, why)
                continue
            miss = await broker.answer(own, ask, context)
        elif not await outlet.put(outgoing):
            broker.forget(own)
            played.stopped = True
            return played
        else:
            outlet.flush()
            miss = await broker.answer(own, ask, context)
        played.miss = played.miss or miss
        played.start = loop.time() - ask.answer_offset / speed if speed else loop.time()
    return played


async def wait_until(start: float, offset: float, speed: float | None, outlet: Outlet) -> None:
    """Sleep until `offset` (scaled) after `start`, flushing first, then until writable."""
    if speed is not None:
        delay = start + offset / speed - asyncio.get_running_loop().time()
        if delay > 0:
            outlet.flush()
            await asyncio.sleep(delay)
    await outlet.ready()
