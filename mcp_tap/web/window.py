"""The events the web view keeps, bounded: past the cap the oldest calls go, whole.

`EventWindow` holds the events in the order they came, each with the number of the call it
belongs to (or None). When it holds more than `max_events`, `shed` drops the calls whose
events are the oldest tenth or so (down to `KEEP` of the cap, so shedding is rare and costs
one pass), with every event of theirs wherever it lies, and the events of no call in that
old part (the exchanges no kept call uses, notifications of no call, faults). A call that
opened a session (`initialize`, with the `notifications/initialized` after it) is pinned:
resend needs a session's handshake. At most `max_pins` are, the latest.

What is dropped is always the oldest calls: every number up to `watermark`, bar the pinned
ones still kept. A late message of a dropped call is not kept again.
"""

from __future__ import annotations

from collections import deque
from itertools import islice

from mcp_tap.protocol.events import (
    ExchangeClosed,
    ExchangeOpened,
    MessageKind,
    MessageSeen,
    ResponseStarted,
    TapEvent,
)

DEFAULT_MAX_EVENTS = 300_000  # 100,000 messages over HTTP (5 events a call), more over stdio
KEEP = 0.9  # shedding goes down to this share of the cap
MAX_PINS = 100  # session handshakes kept past the cap, at most
Item = tuple[TapEvent, int | None]  # an event and the call it belongs to


class EventWindow:
    """The kept events and the calls they belong to (module docstring)."""

    def __init__(self, max_events: int = DEFAULT_MAX_EVENTS) -> None:
        if max_events < 1:
            raise ValueError("the web view must keep at least one event")
        self.max_events = max_events
        self.max_pins = max(1, min(MAX_PINS, max_events // 1000))
        self.items: deque[Item] = deque()
        self.watermark = 0  # every call numbered up to this was dropped, bar `survivors`
        self.survivors: set[int] = set()  # pinned calls at or under the watermark, kept
        self.pins: deque[int] = deque()  # the pinned calls, oldest first

    @property
    def full(self) -> bool:
        return len(self.items) > self.max_events

    @property
    def last_pin(self) -> int | None:
        return self.pins[-1] if self.pins else None

    def pin(self, number: int) -> None:
        """Keep call `number` past the cap (a session's `initialize`)."""
        self.pins.append(number)
        while len(self.pins) > self.max_pins:
            self.pins.popleft()

    def dropped(self, number: int) -> bool:
        """Whether call `number` was dropped."""
        return number <= self.watermark and number not in self.survivors

    def add(self, event: TapEvent, number: int | None) -> None:
        self.items.append((event, number))

    def shed(self) -> set[int]:
        """Drop the oldest calls whole, down to `KEEP` of the cap; their numbers."""
        window = len(self.items) - int(self.max_events * KEEP)
        pinned = set(self.pins)
        old = {n for _, n in islice(self.items, window) if n is not None}
        gone = old - pinned
        if gone:
            self.watermark = max(self.watermark, max(gone))
        self.survivors = {n for n in (self.survivors | old) & pinned if n <= self.watermark}
        used = {
            event.exchange_id
            for event, n in self.items
            if n is not None and n not in gone and isinstance(event, MessageSeen)
        }
        kept: deque[Item] = deque()
        for index, (event, n) in enumerate(self.items):
            if n is not None:
                if n in gone:
                    continue
            elif index < window and not (
                isinstance(event, ExchangeOpened | ResponseStarted | ExchangeClosed)
                and event.exchange_id in used
            ):
                continue
            kept.append((event, n))
        self.items = kept
        return gone

    def events(self) -> list[TapEvent]:
        """The kept events, in order."""
        return [event for event, _ in self.items]

    def local_number(self, number: int) -> int:
        """The number call `number` has when only the kept events are numbered."""
        return sum(
            1
            for event, n in self.items
            if n is not None
            and n <= number
            and isinstance(event, MessageSeen)
            and event.message.kind is MessageKind.REQUEST
        )
