"""The recording as the server saw it: what a `--fault` rule injected left out.

`replay` and `diff` read a recording through `without_injected`, so a fault mcp-tap made on
purpose is never taken for the server's behaviour: not re-sent, not compared.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from mcp_tap.faults import ActionKind
from mcp_tap.faults.plan import WITHHELD
from mcp_tap.protocol.events import Direction, FaultInjected, MessageKind, MessageSeen, TapEvent


def without_injected(events: Iterable[TapEvent]) -> Iterable[TapEvent]:
    """The recording as the server saw it: no `fault-injected` events, and no request that a
    rule kept from the server (answered in its place, swallowed, or never sent). An HTTP
    exchange that carried only such requests goes whole.

    `events` is read once more to find what a rule withheld (twice when one did), then as
    often as the result is: a list, or a recording file read in passes, never held whole.
    """
    withheld: set[tuple[int | None, str]] = set()
    for event in events:
        if isinstance(event, FaultInjected) and event.direction is Direction.CLIENT_TO_SERVER:
            if ActionKind(event.action) in WITHHELD and event.request_id is not None:
                withheld.add((event.exchange_id, repr(event.request_id)))
    if not withheld:
        return ServerSide(events, withheld, set())
    kept_a_request: set[int] = set()
    dropped: set[int] = set()
    for event in events:
        if isinstance(event, MessageSeen) and event.direction is Direction.CLIENT_TO_SERVER:
            key = (event.exchange_id, repr(event.message.id))
            if event.message.kind is MessageKind.REQUEST and key in withheld:
                dropped.add(event.exchange_id)
            else:
                kept_a_request.add(event.exchange_id)
    return ServerSide(events, withheld, dropped - kept_a_request)


@dataclass
class ServerSide:
    """`without_injected`'s events: what the server saw, as often as `events` can be read."""

    events: Iterable[TapEvent]
    withheld: set[tuple[int | None, str]]  # (exchange, request id) kept from the server
    gone: set[int]  # exchanges that carried only withheld requests

    def __iter__(self) -> Iterator[TapEvent]:
        for event in self.events:
            if isinstance(event, FaultInjected):
                continue
            if getattr(event, "exchange_id", None) in self.gone:
                continue
            if (
                isinstance(event, MessageSeen)
                and event.direction is Direction.CLIENT_TO_SERVER
                and (event.exchange_id, repr(event.message.id)) in self.withheld
            ):
                continue
            yield event
