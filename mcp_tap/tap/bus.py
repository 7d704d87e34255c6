"""The tap bus: publishers hand it events, it delivers them to every subscriber in order.

Publishing never runs a subscriber: it appends to a queue and, on an event loop, schedules
one delivery for the next loop turn. So the forwarding path pays for an append, and a burst
of events is delivered to subscribers as one batch.

A live command's bus may wait longer, `gather` seconds from the first event queued: the
subscribers (a dozen judges, the tracker, the view, the recorder) then run over the events
of many exchanges at once, while their code and data are still in the CPU's caches. Between
two exchanges the client and the server evict them, and cold, the same work costs several
times as much. A person sees a line at most that much later; the view draws 12 frames a
second anyway. A flood does not wait so long: once `GATHER_MAX` events came back to back
(each within `QUIET` of the one before), the gathering is over, as it is once `GATHER_LIMIT`
wait. (Counting every event queued instead, 64 of them ended the wait of exchanges one after
another, a few each time, long before `gather`.) Such a batch is delivered `SLICE` at a
time, the forwarding's reads and writes between.

Each subscriber handles a batch of events in turn before the next one takes them, for the
same reason: one subscriber's code stays warm over many events (a sliced delivery's batch is
as many as the last one's pace fits in a slice; `BATCH` at most). Every subscriber still sees
every event in the order published, and an event published while handling (a finding) is
queued behind the rest, as before; only a subscriber that reads another's state when it
handles an event (the view asks the tracker which request an event answered) must allow for
the other being up to a batch ahead (`ProgressTracker.match`).

Events that come back to back (`flowing`: a stream floods) are delivered on the next turn
all the same. Handling them between reads is what lets a stream's events gather in the
socket, to be read and forwarded many at a time; a proxy that only relayed while they
waited would read, and the client would get, twice as many small pieces or more, each costing
the client, the server and the proxy more than the gathering saves.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable

from mcp_tap.protocol.events import Subscriber, TapEvent

log = logging.getLogger(__name__)

LIVE_GATHER = 0.05  # seconds a live command's events may wait to be delivered together
GATHER_MAX = 64  # events back to back (a flood) that end a gathering delivery's wait
GATHER_LIMIT = 1024  # events a gathering delivery waits for at most
QUIET = 0.001  # seconds without a new event that end a flow of them (as for stdio's pipes)
SLICE = 0.0005  # seconds of delivery at a time on a loop
BATCH = 64  # events each subscriber handles in turn (at most), its code warm for all of them


class Later:
    """Events to be made when they are delivered, in their place in the queue: a tap parses
    a body then, with the judges, while the CPU's caches hold what parsing needs."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Iterable[TapEvent]]) -> None:
        self.make = make


class TapBus:
    """Ordered fan-out of tap events to subscribers."""

    def __init__(self, subscribers: list[Subscriber] | None = None, gather: float = 0.0) -> None:
        """`gather`: seconds the first event queued waits for others before delivery (0:
        until the next loop turn)."""
        self._subscribers: list[Subscriber] = list(subscribers or [])
        self._gather = gather
        self._queue: deque[TapEvent | Later] = deque()
        self._drain_scheduled = False
        self._draining = False
        self._started = time.monotonic()
        self._published = float("-inf")  # when the last event was published (monotonic)
        self._run = 0  # events published back to back, each within QUIET of the last
        self._timer: asyncio.TimerHandle | None = None  # a gathering delivery, until due
        self._sliced_batch = 1  # events a sliced delivery takes at a time (it learns how many)
        self._closed = False

    def subscribe(self, subscriber: Subscriber) -> None:
        """Add a subscriber; it sees events published from now on."""
        self._subscribers.append(subscriber)

    def now(self) -> float:
        """Seconds since the bus was created: the time base of every event."""
        return time.monotonic() - self._started

    def publish(self, event: TapEvent) -> None:
        """Queue an event for delivery; cheap and never blocking."""
        self._enqueue(event)

    def publish_later(self, make: Callable[[], Iterable[TapEvent]]) -> None:
        """Queue the events `make` returns, made only when delivered (parsed then, say)."""
        self._enqueue(Later(make))

    def _enqueue(self, item: TapEvent | Later) -> None:
        if self._closed:
            return
        self._queue.append(item)
        now = time.monotonic()
        flowing = now - self._published < QUIET
        self._published = now
        self._run = self._run + 1 if flowing else 1
        if self._drain_scheduled or self._draining:
            if self._timer is not None and (
                self._run >= GATHER_MAX or len(self._queue) >= GATHER_LIMIT
            ):
                self._timer.cancel()  # gathered enough: deliver on the next turn
                self._timer = None
                asyncio.get_running_loop().call_soon(self._deliver)
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.drain()  # no loop (e.g. `show` reading a file): deliver now
            return
        self._drain_scheduled = True
        if self._gather > 0 and not flowing:
            self._timer = loop.call_later(self._gather, self._deliver)
        else:
            loop.call_soon(self._deliver)

    def flowing(self) -> bool:
        """Events come back to back (a stream floods): one was published within `QUIET`.
        The recorder's writer process waits meanwhile (`RecordingWriter.hold_while`): on a
        small machine the client and the server keep the cores busy, and it would be one
        more process to run among them."""
        return time.monotonic() - self._published < QUIET

    def drain(self, until: float | None = None) -> None:
        """Deliver every queued event, including ones subscribers publish while handling
        (with `until`, a `time.perf_counter()` value: only until then)."""
        if self._timer is not None:  # delivered now: the gathering is over
            self._timer.cancel()
            self._timer = None
        self._drain_scheduled = False
        if self._draining:
            return
        self._draining = True
        try:
            while self._queue:
                started = time.perf_counter()
                batch = self._next_batch(BATCH if until is None else self._sliced_batch)
                for subscriber in self._subscribers:
                    handle = subscriber.handle
                    for event in batch:
                        try:
                            handle(event)
                        except Exception:  # one broken subscriber must not silence the others
                            log.exception("subscriber %r failed on %r", subscriber, event)
                if until is not None:
                    now = time.perf_counter()
                    # the next batch: as many events as this one's pace fits in a slice
                    fit = int(len(batch) * SLICE / max(now - started, 1e-6))
                    self._sliced_batch = max(1, min(BATCH, fit))
                    if now >= until:
                        break
        finally:
            self._draining = False

    def _next_batch(self, size: int) -> list[TapEvent]:
        """Up to `size` events from the front of the queue, a `Later`'s made now (what does
        not fit keeps its place). Events published while they are handled go to the back."""
        queue = self._queue
        batch: list[TapEvent] = []
        while queue and len(batch) < size:
            item = queue.popleft()
            if isinstance(item, Later):
                made = list(self._made(item))
                room = size - len(batch)
                batch.extend(made[:room])
                queue.extendleft(reversed(made[room:]))
            else:
                batch.append(item)
        return batch

    @staticmethod
    def _made(later: Later) -> Iterable[TapEvent]:
        try:
            return later.make()
        except Exception:  # a publisher's bug costs its own events, not the queue's others
            log.exception("events to be made at delivery failed: %r", later.make)
            return ()

    def _deliver(self) -> None:
        """A delivery on the loop. A gathering bus's goes `SLICE` at a time, the rest on the
        next turn, so that a large batch never holds up the forwarding for long; another's
        goes whole (a command reading a file may count on one turn delivering it all)."""
        self._timer = None
        self.drain(until=time.perf_counter() + SLICE if self._gather > 0 else None)
        if self._queue and not self._drain_scheduled and not self._closed:
            self._drain_scheduled = True
            asyncio.get_running_loop().call_soon(self._deliver)

    def close(self) -> None:
        """Deliver what is queued, then close every subscriber once."""
        self.drain()
        self._closed = True
        for subscriber in self._subscribers:
            try:
                subscriber.close()
            except Exception:
                log.exception("subscriber %r failed to close", subscriber)
