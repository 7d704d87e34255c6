"""Turn a recording's events into a replay plan: what the client sent, in order, and when.

The plan holds each client-side HTTP exchange (method, target, headers, body rebuilt from the
recorded messages) and a time-ordered list of steps: open an exchange, or close one the client
closed itself (a GET stream at the end of a session, a 2026-07-28 cancellation). Each step
names the recorded calls whose responses had arrived before it, which replay waits for.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from mcp_tap.analysis.calls import Call, CallBook
from mcp_tap.analysis.server_side import without_injected
from mcp_tap.protocol.events import (
    Direction,
    ExchangeClosed,
    ExchangeOpened,
    Headers,
    MessageKind,
    MessageSeen,
    ResponseStarted,
    StreamKind,
    TapEvent,
    header,
)


@dataclass
class RecordedExchange:
    """One HTTP exchange as the client made it."""

    opened: ExchangeOpened
    body: bytes = b""
    started: ResponseStarted | None = None
    closed: ExchangeClosed | None = None
    endpoint_session: str | None = None  # the legacy session its `endpoint` event named

    @property
    def exchange_id(self) -> int:
        return self.opened.exchange_id

    @property
    def headers(self) -> Headers:
        return self.opened.headers

    @property
    def mints_session(self) -> str | None:
        """The session id this exchange's response created (a handshake `initialize`)."""
        if self.started is None or self.started.session_id is None:
            return None
        return (
            None if self.started.session_id == self.opened.session_id else self.started.session_id
        )

    @property
    def is_legacy_stream(self) -> bool:
        return self.started is not None and self.started.stream is StreamKind.LEGACY_SSE


@dataclass(frozen=True)
class Step:
    """Open or close one exchange at a recorded time, after the calls it waited on."""

    time: float
    action: Literal["open", "close"]
    exchange: RecordedExchange
    waits_for: tuple[Call, ...]  # recorded calls answered before this step, not yet awaited


@dataclass
class ReplayPlan:
    exchanges: list[RecordedExchange]
    steps: list[Step]
    calls: list[Call]  # every recorded request with its progress and response
    start: float = 0.0
    notes: list[str] = field(default_factory=list)


def request_body(messages: list[MessageSeen]) -> bytes:
    """The request body rebuilt from its recorded messages (compact JSON, as SDKs send it)."""
    if not messages:
        return b""
    first = messages[0].message
    if first.raw is not None:
        return first.raw.encode()
    payloads = [m.message.payload for m in messages]
    value = payloads if first.batch_index is not None else payloads[0]
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def build_plan(events: Iterable[TapEvent]) -> ReplayPlan:
    """Everything replay needs, from a recording's events alone, read once (a recording
    file need not be held in memory: the plan keeps what replay sends and compares). What
    mcp-tap injected by a `--fault` rule is left out: it was never the server's doing."""
    events = without_injected(events)
    exchanges: dict[int, RecordedExchange] = {}
    bodies: dict[int, list[MessageSeen]] = {}
    book = CallBook()
    for event in events:
        book.handle(event)
        if isinstance(event, ExchangeOpened):
            exchanges[event.exchange_id] = RecordedExchange(event)
        elif isinstance(event, ResponseStarted) and event.exchange_id in exchanges:
            exchanges[event.exchange_id].started = event
        elif isinstance(event, ExchangeClosed) and event.exchange_id in exchanges:
            exchanges[event.exchange_id].closed = event
        elif isinstance(event, MessageSeen) and event.exchange_id in exchanges:
            if event.direction is Direction.CLIENT_TO_SERVER:
                bodies.setdefault(event.exchange_id, []).append(event)
            elif event.message.kind is MessageKind.ENDPOINT:
                exchanges[event.exchange_id].endpoint_session = event.session_id
    for exchange_id, messages in bodies.items():
        exchanges[exchange_id].body = request_body(messages)
    notes: list[str] = []
    if any(x.opened.origin is not None for x in exchanges.values()):
        # A forward proxy's recording: OAuth and whatever else the client fetched, from any
        # host. Replay re-sends the MCP exchanges, all to the one target.
        mcp = {i: x for i, x in exchanges.items() if _is_mcp(x, bodies.get(i, []))}
        if len(mcp) < len(exchanges):
            notes.append(f"left out {len(exchanges) - len(mcp)} exchanges that carry no MCP")
        exchanges = mcp

    calls = book.calls
    answered = sorted(
        (c for c in calls if c.answered_at is not None and c.exchange_id in exchanges),
        key=lambda c: c.answered_at or 0.0,
    )
    timeline: list[tuple[float, Literal["open", "close"], RecordedExchange]] = []
    for exchange in exchanges.values():
        timeline.append((exchange.opened.time, "open", exchange))
        if exchange.closed is not None and exchange.closed.reason == "client-disconnected":
            timeline.append((exchange.closed.time, "close", exchange))
    timeline.sort(key=lambda item: item[0])

    steps: list[Step] = []
    next_answer = 0
    for time, action, exchange in timeline:
        waits: list[Call] = []
        while next_answer < len(answered) and (answered[next_answer].answered_at or 0) < time:
            waits.append(answered[next_answer])
            next_answer += 1
        steps.append(Step(time, action, exchange, tuple(waits)))
    start = timeline[0][0] if timeline else 0.0
    return ReplayPlan(list(exchanges.values()), steps, calls, start, notes)


@dataclass(frozen=True)
class ClientLine:
    """One message (or batch) the client sent, as a stdio carrier writes it: one line."""

    time: float
    body: bytes  # without its newline
    waits_for: tuple[Call, ...]  # recorded calls answered before it was sent
    requests: tuple[Call, ...]  # the recorded requests it carries, in order


def client_lines(plan: ReplayPlan) -> list[ClientLine]:
    """The plan's request bodies in the order they were sent, for a carrier with no exchanges.

    An exchange without a body (a GET stream, a DELETE) sends nothing; what it waited for
    passes to the next line. A body never holds a newline: compact JSON has none, and one in
    a non-JSON body would split it into two lines, so it becomes a space.
    """
    by_exchange: dict[int, list[Call]] = {}
    for call in plan.calls:
        by_exchange.setdefault(call.exchange_id, []).append(call)
    lines: list[ClientLine] = []
    waits: list[Call] = []
    for step in plan.steps:
        waits.extend(step.waits_for)
        exchange = step.exchange
        if step.action != "open" or not exchange.body.strip():
            continue
        body = exchange.body.replace(b"\r", b" ").replace(b"\n", b" ")
        requests = tuple(by_exchange.get(exchange.exchange_id, ()))
        lines.append(ClientLine(step.time, body, tuple(waits), requests))
        waits = []
    return lines


def _is_mcp(exchange: RecordedExchange, sent: list[MessageSeen]) -> bool:
    """An exchange of the MCP transport: JSON-RPC sent, an MCP header, or an MCP stream."""
    if any(header(exchange.headers, name) for name in ("mcp-session-id", "mcp-protocol-version")):
        return True
    if any(m.message.kind is not MessageKind.INVALID for m in sent):
        return True
    return exchange.is_legacy_stream
