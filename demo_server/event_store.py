"""A small in-memory `EventStore`, so the demo server supports `Last-Event-ID` resumption.

The Streamable HTTP transport stores every message it writes to an SSE stream (plus an
empty "priming" event when a stream opens) and sends the returned ID as the SSE `id:`.
A client that lost the stream can reconnect with `GET` and `Last-Event-ID: <id>`; the
transport then asks the store to replay what came after that ID on the same stream.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from dataclasses import dataclass

from mcp.server.streamable_http import EventCallback, EventId, EventMessage, EventStore, StreamId
from mcp.types import JSONRPCMessage


@dataclass(frozen=True, slots=True)
class _StoredEvent:
    stream_id: StreamId
    message: JSONRPCMessage | None  # None for a priming event, which is never replayed


class InMemoryEventStore(EventStore):
    """Keeps the last `max_events` events of all streams in memory, oldest evicted first."""

    def __init__(self, max_events: int = 10_000) -> None:
        if max_events <= 0:
            raise ValueError("max_events must be positive")
        self._max_events = max_events
        # Insertion order is event order, which is what replay walks through.
        self._events: OrderedDict[EventId, _StoredEvent] = OrderedDict()
        # Sequential IDs keep recordings readable and make "after" a cheap comparison.
        self._ids = itertools.count(1)

    async def store_event(self, stream_id: StreamId, message: JSONRPCMessage | None) -> EventId:
        event_id = str(next(self._ids))
        self._events[event_id] = _StoredEvent(stream_id, message)
        if len(self._events) > self._max_events:
            self._events.popitem(last=False)
        return event_id

    async def replay_events_after(
        self, last_event_id: EventId, send_callback: EventCallback
    ) -> StreamId | None:
        last = self._events.get(last_event_id)
        if last is None:
            # Unknown or already evicted: nothing can be resumed.
            return None
        after = int(last_event_id)
        for event_id, event in self._events.items():
            if int(event_id) <= after or event.stream_id != last.stream_id:
                continue
            if event.message is not None:
                await send_callback(EventMessage(event.message, event_id))
        return last.stream_id
