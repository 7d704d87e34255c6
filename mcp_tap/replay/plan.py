"""Turn a recording's events into a replay plan: what the client sent, in order, and when.

The plan holds each client-side HTTP exchange (method, target, headers, body rebuilt from the
recorded messages) and a time-ordered list of steps: open an exchange, or close one the client
closed itself (a GET stream at the end of a session, a 2026-07-28 cancellation). Each step
names the recorded calls whose responses had arrived before it, which replay waits for.
"""

from __future__ import annotations

import json
import pickle
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

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


@dataclass(slots=True)
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


@dataclass(frozen=True, slots=True)
class Step:
    """Open or close one exchange at a recorded time, after the calls it waited on."""

    time: float
    action: Literal["open", "close"]
    exchange: RecordedExchange
    waits_for: tuple[Call, ...]  # recorded calls answered before this step, not yet awaited


@dataclass(slots=True)
class Packed:
    """What compare needs of a recorded call once its exchange closed, pickled: its response's
    payload and its progress (a call's dicts take ten times the room of their bytes)."""

    response: bytes | None  # the response's payload; None: no response yet when packed
    progress: bytes  # the list of progress params seen so far
    times: array[float]


_LABELS: dict[str, dict[str, Any]] = {}


def pack(call: Call) -> Packed:
    """Pack `call` in place: its request keeps what its label needs, its response only its
    kind and id, its progress lists restart empty (a late notification still lands there)."""
    params = call.request.payload.get("params") if isinstance(call.request.payload, dict) else None
    name = params.get("name") if isinstance(params, dict) else None
    if isinstance(name, str):  # one payload a tool name, shared by its calls (never changed)
        payload = _LABELS.setdefault(name, {"params": {"name": name}})
        call.request = replace(call.request, payload=payload)
    else:
        call.request = replace(call.request, payload=None)
    response = None
    if call.response is not None:
        response = pickle.dumps(call.response.payload, pickle.HIGHEST_PROTOCOL)
        call.response = replace(call.response, payload=None)
    progress = pickle.dumps(call.progress, pickle.HIGHEST_PROTOCOL)
    packed = Packed(response, progress, array("d", call.progress_times))
    call.progress, call.progress_times = [], []
    return packed


def unpack(call: Call, packed: Packed) -> Call:
    """The recorded call whole again, as it was read (and whatever reached it after packing)."""
    response = call.response
    if response is not None and packed.response is not None:
        response = replace(response, payload=pickle.loads(packed.response))
    progress = [*pickle.loads(packed.progress), *call.progress]
    times = [*packed.times, *call.progress_times]
    request = call.request
    return Call(
        call.exchange_id,
        call.session_id,
        request,
        call.sent_at,
        progress,
        times,
        response,
        call.answered_at,
    )


@dataclass
class ReplayPlan:
    exchanges: list[RecordedExchange]
    steps: list[Step]
    calls: list[Call]  # every recorded request; packed: see `recorded`
    start: float = 0.0
    notes: list[str] = field(default_factory=list)
    packed: dict[int, Packed] = field(default_factory=dict)  # id(call) -> its packed parts
    by_exchange: dict[int, list[Call]] = field(default_factory=dict)  # recorded exchange id

    def recorded(self, call: Call) -> Call:
        """`call` with its response and progress, for comparing."""
        packed = self.packed.get(id(call))
        return call if packed is None else unpack(call, packed)


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
    bodies: dict[int, list[MessageSeen]] = {}  # until the exchange closes
    sent_rpc: set[int] = set()  # exchanges whose client sent JSON-RPC
    shared: dict[Headers, Headers] = {}  # one copy of each header list
    book = CallBook()
    by_exchange: dict[int, list[Call]] = {}
    packed: dict[int, Packed] = {}
    for event in events:
        known = len(book.calls)
        book.handle(event)
        for call in book.calls[known:]:
            by_exchange.setdefault(call.exchange_id, []).append(call)
        if isinstance(event, ExchangeOpened):
            opened = replace(event, headers=shared.setdefault(event.headers, event.headers))
            exchanges[event.exchange_id] = RecordedExchange(opened)
        elif isinstance(event, ResponseStarted) and event.exchange_id in exchanges:
            exchanges[event.exchange_id].started = replace(event, headers=())  # never sent
        elif isinstance(event, ExchangeClosed) and event.exchange_id in exchanges:
            exchanges[event.exchange_id].closed = event
            _seal(exchanges[event.exchange_id], bodies, sent_rpc)
            # Its calls are complete: keep them packed (a late answer still finds them).
            for call in by_exchange.get(event.exchange_id, ()):
                if id(call) not in packed:
                    packed[id(call)] = pack(call)
        elif isinstance(event, MessageSeen) and event.exchange_id in exchanges:
            if event.direction is Direction.CLIENT_TO_SERVER:
                bodies.setdefault(event.exchange_id, []).append(event)
            elif event.message.kind is MessageKind.ENDPOINT:
                exchanges[event.exchange_id].endpoint_session = event.session_id
    for exchange in exchanges.values():
        _seal(exchange, bodies, sent_rpc)
    notes: list[str] = []
    if any(x.opened.origin is not None for x in exchanges.values()):
        # A forward proxy's recording: OAuth and whatever else the client fetched, from any
        # host. Replay re-sends the MCP exchanges, all to the one target.
        mcp = {i: x for i, x in exchanges.items() if _is_mcp(x, i in sent_rpc)}
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
    return ReplayPlan(list(exchanges.values()), steps, calls, start, notes, packed, by_exchange)


def _seal(
    exchange: RecordedExchange, bodies: dict[int, list[MessageSeen]], sent_rpc: set[int]
) -> None:
    """Rebuild an exchange's request body from its messages, and let the messages go."""
    messages = bodies.pop(exchange.exchange_id, None)
    if messages:
        exchange.body = request_body(messages)
        if any(m.message.kind is not MessageKind.INVALID for m in messages):
            sent_rpc.add(exchange.exchange_id)


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


def _is_mcp(exchange: RecordedExchange, sent_rpc: bool) -> bool:
    """An exchange of the MCP transport: JSON-RPC sent, an MCP header, or an MCP stream."""
    if any(header(exchange.headers, name) for name in ("mcp-session-id", "mcp-protocol-version")):
        return True
    if sent_rpc:
        return True
    return exchange.is_legacy_stream
