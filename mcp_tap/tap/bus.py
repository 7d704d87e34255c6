"""The tap bus: publishers hand it events, it delivers them to every subscriber in order.

Publishing never runs a subscriber: it appends to a queue and, on an event loop, schedules
one drain for the next loop turn. So the forwarding path pays for an append, and a burst of
events is delivered to subscribers as one batch.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque

from mcp_tap.protocol.events import Subscriber, TapEvent

log = logging.getLogger(__name__)


class TapBus:
    """Ordered fan-out of tap events to subscribers."""

    def __init__(self, subscribers: list[Subscriber] | None = None) -> None:
        self._subscribers: list[Subscriber] = list(subscribers or [])
        self._queue: deque[TapEvent] = deque()
        self._drain_scheduled = False
        self._draining = False
        self._started = time.monotonic()
        self._closed = False

    def subscribe(self, subscriber: Subscriber) -> None:
        """Add a subscriber; it sees events published from now on."""
        self._subscribers.append(subscriber)

    def now(self) -> float:
        """Seconds since the bus was created: the time base of every event."""
        return time.monotonic() - self._started

    def publish(self, event: TapEvent) -> None:
        """Queue an event for delivery; cheap and never blocking."""
        if self._closed:
            return
        self._queue.append(event)
        if self._drain_scheduled or self._draining:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.drain()  # no loop (e.g. `show` reading a file): deliver now
            return
        self._drain_scheduled = True
        loop.call_soon(self.drain)

    def drain(self) -> None:
        """Deliver every queued event, including ones subscribers publish while handling."""
        self._drain_scheduled = False
        if self._draining:
            return
        self._draining = True
        try:
            while self._queue:
                event = self._queue.popleft()
                for subscriber in self._subscribers:
                    try:
                        subscriber.handle(event)
                    except Exception:  # one broken subscriber must not silence the others
                        log.exception("subscriber %r failed on %r", subscriber, event)
        finally:
            self._draining = False

    def close(self) -> None:
        """Deliver what is queued, then close every subscriber once."""
        self.drain()
        self._closed = True
        for subscriber in self._subscribers:
            try:
                subscriber.close()
            except Exception:
                log.exception("subscriber %r failed to close", subscriber)
