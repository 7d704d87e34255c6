"""A recording read for export: its HTTP exchanges, its JSON-RPC calls and its findings.

Every exporter (HAR, OTLP, the HTML report) needs the same two views of one recording: the
HTTP exchanges, each with its request and response and the messages that crossed in them,
and the JSON-RPC requests, each with its response, progress and findings. `analyze` builds
both in one pass. Correlation is the progress tracker's own (`ProgressTracker.match`), fed
the way `mcp-tap show` feeds it, so a request here is matched with its response and its
progress exactly as the live view matched them. Findings are the recording's: they were
judged live, by the checks that ran then.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mcp_tap.analysis.calls import CallNumbers
from mcp_tap.analysis.progress_stats import RequestState, TrackedRequest
from mcp_tap.analysis.tracker import ProgressTracker
from mcp_tap.protocol.events import (
    ExchangeClosed,
    ExchangeOpened,
    Fault,
    Finding,
    MessageKind,
    MessageSeen,
    ResponseStarted,
    StreamKind,
    TapEvent,
)
from mcp_tap.protocol.jsonrpc import is_tool_error
from mcp_tap.recording.reader import EventSource

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TOOL_ERROR = "tool error"  # a call's outcome when its result says isError: true


@dataclass
class Exchange:
    """One HTTP exchange: the client's request, the upstream's answer, what crossed in them."""

    exchange_id: int
    opened: ExchangeOpened | None = None
    response: ResponseStarted | None = None
    closed: ExchangeClosed | None = None
    sent: list[MessageSeen] = field(default_factory=list)  # in the request body
    received: list[MessageSeen] = field(default_factory=list)  # in the response body
    faults: list[Fault] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    calls: list[int] = field(default_factory=list)  # the calls whose messages it carried

    @property
    def start(self) -> float:
        """When the exchange began (seconds since the recording started)."""
        for event in (self.opened, self.response, self.closed):
            if event is not None:
                return event.time
        return self.sent[0].time if self.sent else 0.0

    @property
    def end(self) -> float:
        """When it ended, or the last thing seen of it when it never closed."""
        if self.closed is not None:
            return self.closed.time
        times = [m.time for m in self.received] + [self.start]
        if self.response is not None:
            times.append(self.response.time)
        return max(times)


@dataclass
class Call:
    """One JSON-RPC request and what became of it."""

    request: MessageSeen
    tracked: TrackedRequest | None
    number: int = 0  # its number in the recording, as every command names it (`CallNumbers`)
    response: MessageSeen | None = None
    progress: list[MessageSeen] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def method(self) -> str:
        return self.request.message.method or "?"

    @property
    def start(self) -> float:
        return self.request.time

    @property
    def end(self) -> float | None:
        """When the request ended: its response, its cancellation, or its stream's end."""
        if self.response is not None:
            return self.response.time
        if self.tracked is not None and self.tracked.ended_at is not None:
            return self.tracked.ended_at
        return None

    @property
    def outcome(self) -> str:
        """completed, tool error, failed, cancelled, abandoned, or unanswered.

        A tool error is a result with `isError: true`: the call worked, the tool failed.
        """
        if self.response is not None:
            if self.response.message.kind is MessageKind.ERROR:
                return RequestState.FAILED.value
            if self.tracked is None or self.tracked.state is not RequestState.CANCELLED:
                if is_tool_error(self.response.message):
                    return TOOL_ERROR
                return RequestState.COMPLETED.value
        if self.tracked is not None and self.tracked.state not in (
            RequestState.ACTIVE,
            RequestState.TASK,
        ):
            return self.tracked.state.value
        return "unanswered"

    @property
    def target(self) -> str | None:
        """The tool, prompt or resource the request names, if any."""
        return self.tracked.label if self.tracked is not None else None


@dataclass
class Session:
    """A recording, grouped for export."""

    header: dict[str, Any]
    events: list[TapEvent]
    started: datetime  # wall clock of time 0
    exchanges: dict[int, Exchange] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return max((getattr(e, "time", 0.0) for e in self.events), default=0.0)

    def wall(self, offset: float) -> datetime:
        """The wall-clock time of an event `offset` seconds into the recording."""
        return datetime.fromtimestamp(self.started.timestamp() + offset, UTC)

    def epoch(self, offset: float) -> float:
        """Seconds since the Unix epoch of an event `offset` seconds into the recording."""
        return self.started.timestamp() + offset

    @property
    def session_ids(self) -> list[str]:
        seen: dict[str, None] = {}
        for event in self.events:
            session = getattr(event, "session_id", None)
            if isinstance(session, str):
                seen.setdefault(session)
        return list(seen)


def parse_started(value: Any) -> datetime:
    """The header's `started` as an aware datetime; the epoch when it is missing or odd."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return EPOCH
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return EPOCH


def analyze(recording: EventSource) -> Session:
    """Group a recording's events into exchanges and calls (all of them kept in memory)."""
    events = list(recording)
    session = Session(
        recording.header,
        events,
        parse_started(recording.header.get("started")),
        warnings=list(recording.warnings),
    )
    # The recording already holds the findings judged live: the tracker only correlates.
    tracker = ProgressTracker(lambda _event: None, emit_findings=False)
    calls: dict[int, Call] = {}  # id(TrackedRequest) -> its call; the tracker keeps them alive
    numbers = CallNumbers()
    for event in session.events:
        tracker.handle(event)
        number = numbers.see(event)
        if isinstance(event, Finding):
            session.findings.append(event)
            if event.exchange_id is not None:
                _exchange(session, event.exchange_id).findings.append(event)
        elif isinstance(event, Fault):
            session.faults.append(event)
            if event.exchange_id is not None:
                _exchange(session, event.exchange_id).faults.append(event)
            continue
        else:
            _add_to_exchange(session, event)
        if not isinstance(event, MessageSeen):
            continue
        carried = session.exchanges[event.exchange_id].calls
        if number is not None and number not in carried:
            carried.append(number)
        tracked = tracker.match(event)
        kind = event.message.kind
        if kind is MessageKind.REQUEST:
            call = Call(event, tracked, number or 0)
            session.calls.append(call)
            if tracked is not None:
                calls[id(tracked)] = call
        elif tracked is not None and id(tracked) in calls:
            call = calls[id(tracked)]
            if kind in (MessageKind.RESPONSE, MessageKind.ERROR) and call.response is None:
                call.response = event
            elif event.message.method == "notifications/progress":
                call.progress.append(event)
    _attach_findings(session)
    return session


def _exchange(session: Session, exchange_id: int) -> Exchange:
    exchange = session.exchanges.get(exchange_id)
    if exchange is None:
        exchange = session.exchanges[exchange_id] = Exchange(exchange_id)
    return exchange


def _add_to_exchange(session: Session, event: TapEvent) -> None:
    if isinstance(event, ExchangeOpened):
        _exchange(session, event.exchange_id).opened = event
    elif isinstance(event, ResponseStarted):
        _exchange(session, event.exchange_id).response = event
    elif isinstance(event, ExchangeClosed):
        _exchange(session, event.exchange_id).closed = event
    elif isinstance(event, MessageSeen):
        exchange = _exchange(session, event.exchange_id)
        if event.stream is StreamKind.REQUEST_BODY:
            exchange.sent.append(event)
        else:
            exchange.received.append(event)


def _attach_findings(session: Session) -> None:
    """Give each finding that names a request to the latest such call sent before it."""
    by_key: dict[tuple[str | None, Any], list[Call]] = {}
    for call in session.calls:
        key = (call.request.session_id, _typed(call.request.message.id))
        by_key.setdefault(key, []).append(call)
    for finding in session.findings:
        if finding.request_id is None:
            continue
        candidates = by_key.get((finding.session_id, _typed(finding.request_id)), [])
        earlier = [c for c in candidates if c.start <= finding.time] or candidates
        if earlier:
            earlier[-1].findings.append(finding)


def _typed(value: Any) -> tuple[str, Any]:
    # "1" and 1 are different JSON-RPC ids
    return (type(value).__name__, value)
