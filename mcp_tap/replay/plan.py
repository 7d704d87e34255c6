"""Turn a recording's events into a replay plan: what the client sent, in order, and when.

The plan is each client-side HTTP exchange (method, target, headers, body rebuilt from the
recorded messages) and a time-ordered list of steps: open an exchange, or close one the client
closed itself (a GET stream at the end of a session, a 2026-07-28 cancellation). Each step
names the recorded calls whose responses had arrived before it, which replay waits for.
`PlanReader` reads the steps as the replay goes, so a recording of any size replays in
bounded memory; `build_plan` keeps a whole plan, for a stdio replay, `resend` and tests.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
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


@dataclass(slots=True)
class RecordedExchange:
    """One HTTP exchange as the client made it."""

    opened: ExchangeOpened
    body: bytes = b""
    started: ResponseStarted | None = None
    closed: ExchangeClosed | None = None
    endpoint_session: str | None = None  # the legacy session its `endpoint` event named
    sealed: bool = False  # its request body is complete (its response began, or it closed)
    left_out: bool = False  # a forward recording's exchange that carries no MCP

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


@dataclass
class ReplayPlan:
    """A whole plan in memory: for a stdio server's replay, `resend`, and tests."""

    exchanges: list[RecordedExchange]
    steps: list[Step]
    calls: list[Call]  # every recorded request, with its progress and response
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


def build_plan(events: Iterable[TapEvent], numbers: Iterable[int] = ()) -> ReplayPlan:
    """Everything replay needs, read at once and kept (see `PlanReader`)."""
    reader = PlanReader(events, numbers, keep=True)
    steps = list(reader.steps())
    exchanges = [step.exchange for step in steps if step.action == "open"]
    notes = [f"left out {reader.left_out} exchanges that carry no MCP"] if reader.left_out else []
    return ReplayPlan(exchanges, steps, reader.calls, reader.start or 0.0, notes)


Action = Literal["open", "close"]
MAX_SHARED_HEADERS = 4096  # distinct header lists the reader keeps one copy of


class PlanReader:
    """A recording's replay plan, read from its events as the replay goes.

    Each pass of `steps()` reads the events once and yields the steps in recorded order, an
    exchange's step as soon as its request body is complete (its response began, it closed,
    or the events ended), so a recording file is never held: what lives is the exchanges and
    calls still open in the recording and those the replay has not judged yet.

    A recorded call is complete once it has its response and the exchange that carried its
    request has closed (or the events ended): then `on_complete` is told, and the call stays
    in `by_exchange` until `release`. What mcp-tap injected by a `--fault` rule is left out:
    it was never the server's doing. In a forward proxy's recording (OAuth and whatever else
    the client fetched, from any host), exchanges that carry no MCP are left out too.
    """

    def __init__(
        self, events: Iterable[TapEvent], numbers: Iterable[int] = (), keep: bool = False
    ) -> None:
        self.events = without_injected(events)
        self.numbers = iter(numbers)  # the calls' numbers, when the events renumbered them
        self.keep = keep  # True: `calls` keeps every recorded request
        self.calls: list[Call] = []
        self.start: float | None = None  # the first step's time, once it is read
        self.legacy_sessions: set[str] = set()  # named by an `endpoint` event so far
        self.by_exchange: dict[int, list[Call]] = {}  # recorded calls not released yet
        self.place: dict[int, int] = {}  # id(call) -> its index among the recorded requests
        self.complete: set[int] = set()  # id(call) of those complete in the recording
        self.on_complete: Callable[[Call], None] | None = None
        self.left_out = 0  # exchanges left out (see above)

    def release(self, call: Call) -> None:
        """`call` has been judged: let go of it."""
        calls = self.by_exchange.get(call.exchange_id)
        if calls is not None and call in calls:
            calls.remove(call)
            if not calls:
                del self.by_exchange[call.exchange_id]
        self.place.pop(id(call), None)
        self.complete.discard(id(call))

    def pending(self) -> list[Call]:
        """The calls not released, in recorded order."""
        calls = [call for calls in self.by_exchange.values() for call in calls]
        return sorted(calls, key=lambda call: self.place.get(id(call), 0))

    def steps(self) -> Iterator[Step]:
        """The steps, in recorded order, read as they are needed."""
        book = CallBook(keep=False)
        exchanges: dict[int, RecordedExchange] = {}  # until closed
        bodies: dict[int, list[MessageSeen]] = {}  # until sealed
        shared: dict[Headers, Headers] = {}  # one copy of each header list
        queue: deque[tuple[float, Action, RecordedExchange, list[Call]]] = deque()
        answered: list[Call] = []  # answered, not yet waited for by a step
        unanswered: dict[int, Call] = {}  # id -> call whose exchange closed before its answer
        sent: dict[int, Call] = {}  # id -> call on a recorded exchange, until answered
        requests = 0

        def ready() -> Iterator[Step]:
            while queue and queue[0][2].sealed:
                time, action, exchange, waits = queue.popleft()
                if exchange.left_out:  # the next step waits for what it would have
                    (queue[0][3] if queue else answered)[:0] = waits
                    continue
                if self.start is None:
                    self.start = time
                yield Step(time, action, exchange, tuple(waits))

        def queued(time: float, action: Action, exchange: RecordedExchange) -> None:
            waits = [c for c in answered if (c.answered_at or 0.0) < time]
            answered[:] = [c for c in answered if (c.answered_at or 0.0) >= time]
            queue.append((time, action, exchange, waits))

        def completed(call: Call) -> None:
            self.complete.add(id(call))
            book.forget(call)
            if self.on_complete is not None:
                self.on_complete(call)

        for event in self.events:
            call = book.handle(event)
            if call is not None and call.answered_at is None:  # a new request
                call.number = next(self.numbers, call.number)
                self.place[id(call)] = requests
                requests += 1
                self.by_exchange.setdefault(call.exchange_id, []).append(call)
                if call.exchange_id in exchanges:  # a request replay sends: one to wait for
                    sent[id(call)] = call
                if self.keep:
                    self.calls.append(call)
            elif call is not None:  # its answer
                if sent.pop(id(call), None) is not None:
                    answered.append(call)
                if unanswered.pop(id(call), None) is not None:
                    completed(call)
            if isinstance(event, ExchangeOpened):
                if len(shared) > MAX_SHARED_HEADERS:
                    shared.clear()
                opened = replace(event, headers=shared.setdefault(event.headers, event.headers))
                exchanges[event.exchange_id] = RecordedExchange(opened)
                queued(event.time, "open", exchanges[event.exchange_id])
                continue
            if not isinstance(event, MessageSeen | ResponseStarted | ExchangeClosed):
                continue
            exchange = exchanges.get(event.exchange_id)
            if exchange is None:
                continue
            if isinstance(event, MessageSeen) and event.direction is Direction.CLIENT_TO_SERVER:
                if not exchange.sealed:
                    bodies.setdefault(event.exchange_id, []).append(event)
                continue  # a request body: the exchange is not sealed by it
            if isinstance(event, ResponseStarted):
                exchange.started = replace(event, headers=())  # never sent
            elif isinstance(event, MessageSeen) and event.message.kind is MessageKind.ENDPOINT:
                exchange.endpoint_session = event.session_id
                if event.session_id is not None:
                    self.legacy_sessions.add(event.session_id)
            self._seal(exchange, bodies)
            if isinstance(event, ExchangeClosed):
                exchange.closed = event
                del exchanges[event.exchange_id]
                if event.reason == "client-disconnected":
                    queued(event.time, "close", exchange)
                for call in self.by_exchange.get(event.exchange_id, ()):
                    if call.response is not None:
                        completed(call)
                    else:
                        unanswered[id(call)] = call
            yield from ready()
        for exchange in exchanges.values():
            self._seal(exchange, bodies)
        yield from ready()
        for calls in list(self.by_exchange.values()):
            for call in calls:
                if id(call) not in self.complete:
                    completed(call)

    def _seal(self, exchange: RecordedExchange, bodies: dict[int, list[MessageSeen]]) -> None:
        """Rebuild an exchange's request body from its messages, and let the messages go."""
        if exchange.sealed:
            return
        exchange.sealed = True
        messages = bodies.pop(exchange.exchange_id, None) or []
        if messages:
            exchange.body = request_body(messages)
        sent_rpc = any(m.message.kind is not MessageKind.INVALID for m in messages)
        if exchange.opened.origin is not None and not _is_mcp(exchange, sent_rpc):
            exchange.left_out = True
            self.left_out += 1


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
