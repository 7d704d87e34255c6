"""The spans of `export --format otlp`, sent live to an OpenTelemetry collector.

`LiveTraces` is a tap subscriber: it correlates requests with their responses and progress
(its own `ProgressTracker`, which only correlates: the findings come on the bus from the
checkers), and when a request ends it builds the request's span with the file export's own
code (`otlp.call_span`): same names, attributes, progress and finding events. A request
ends at its response, its cancellation, when its own response stream closes without one,
or at shutdown. Each session is a trace under a root `mcp.session` span, which ends when the
client deletes the session (HTTP DELETE) or at shutdown.

A span is handed to the sink a loop turn after its request ended, so the findings its end
caused (published on the bus while handling it) are on it. The sink (`otlp_sink.OtlpSink`)
sends spans from the SDK's own exporter thread: `handle` never waits on the network.

Memory is bounded: at most `MAX_OPEN_CALLS` requests wait for an end (the oldest is ended
early past that), a span keeps at most `MAX_EVENTS` events, the SDK queue holds 2048 spans.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Mapping

from opentelemetry.sdk.trace.export import SpanExporter

from mcp_tap.analysis.progress_stats import LIVE_STATES, TrackedRequest, typed_key
from mcp_tap.analysis.tracker import ProgressTracker
from mcp_tap.export.otlp import (
    Span,
    SpanEvent,
    call_span,
    fault_event,
    finding_event,
    hex_id,
    session_span,
)
from mcp_tap.export.otlp_sink import OtlpSink
from mcp_tap.export.session import Call
from mcp_tap.protocol.events import (
    Direction,
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
from mcp_tap.protocol.redaction import Redactor

MAX_OPEN_CALLS = 10_000  # requests waiting for their end; past it the oldest ends unanswered
MAX_OPEN_SESSIONS = 1_000  # session roots kept open; past it the oldest ends
MAX_EVENTS = 128  # events on one span, as the SDK's default limit
OWN_STREAMS = (StreamKind.POST_SSE, StreamKind.JSON_RESPONSE)

SpanSend = Callable[[Span], None]


class _Open:
    """A request whose span is not sent yet: its call, the ids it will carry."""

    __slots__ = ("call", "parent", "span_id", "dropped")

    def __init__(self, call: Call, parent: Span, span_id: str) -> None:
        self.call = call
        self.parent = parent
        self.span_id = span_id
        self.dropped = 0  # progress notifications past MAX_EVENTS


class LiveTraces:
    """Tap subscriber: a span per request and a root per session, sent as they end.

    `epoch0`: the wall clock (seconds since 1970) of tap time 0. `send` takes each finished
    span; `close_sink` is called once, last. `target` is the root spans' recording target.
    `redact`: what every event goes through first, so spans hold no secret (the recording's
    rules; session ids kept).
    """

    def __init__(
        self,
        send: SpanSend,
        epoch0: float,
        target: str,
        close_sink: Callable[[], None] = lambda: None,
        redact: Redactor | None = None,
    ) -> None:
        self._send = send
        self._redact = redact or Redactor(sessions=False)
        self._close_sink = close_sink
        self._epoch0 = epoch0
        self._target = target
        self._seed = secrets.token_hex(8)  # ids unique to this run, derived as the file's
        self._tracker = ProgressTracker(lambda _event: None, emit_findings=False)
        self._requests = 0  # requests seen, both ways: the last call number given
        self._open: dict[int, _Open] = {}  # id(TrackedRequest) -> its request, oldest first
        self._by_exchange: dict[int, list[_Open]] = {}  # client requests, by their exchange
        self._by_id: dict[tuple[str | None, tuple[str, str | int]], _Open] = {}
        self._roots: dict[str | None, Span] = {}
        self._root_count = 0
        self._calls = 0
        self._exchanges: dict[int, ExchangeOpened] = {}
        self._streams: dict[int, ResponseStarted] = {}
        self._ending: list[tuple[_Open, float]] = []
        self._flush_scheduled = False
        self._now = 0.0
        self._closed = False

    def epoch(self, time: float) -> float:
        return self._epoch0 + time

    # --- subscriber -----------------------------------------------------------------------

    def handle(self, event: TapEvent) -> None:
        if self._closed:
            return
        event = self._redact(event)
        self._tracker.handle(event)
        time = getattr(event, "time", None)
        if isinstance(time, float | int):
            self._now = max(self._now, float(time))
        if isinstance(event, MessageSeen):
            if event.message.kind is MessageKind.REQUEST:
                # a request's call number is the count of requests so far (`CallNumbers`),
                # kept without remembering every id
                self._requests += 1
            self._on_message(event)
        elif isinstance(event, Finding):
            self._on_finding(event)
        elif isinstance(event, ExchangeOpened):
            self._exchanges[event.exchange_id] = event
        elif isinstance(event, ResponseStarted):
            self._streams[event.exchange_id] = event
        elif isinstance(event, ExchangeClosed):
            self._on_closed(event)
        elif isinstance(event, Fault):
            opened = self._exchanges.get(event.exchange_id) if event.exchange_id else None
            session = opened.session_id if opened is not None else None
            self._add_root_event(session, event.time, fault_event(event, self.epoch))
        if self._ending:
            self._schedule_flush()

    def close(self) -> None:
        """Send every span still open, ending at the last thing seen, then close the sink."""
        if self._closed:
            return
        self._closed = True
        for pending in list(self._open.values()):
            self._end(pending, self._end_time(pending))
        self._flush()
        for session in list(self._roots):
            self._end_root(session)
        self._close_sink()

    # --- requests -------------------------------------------------------------------------

    def _on_message(self, event: MessageSeen) -> None:
        tracked = self._tracker.match(event)
        if tracked is None:
            return
        kind = event.message.kind
        if kind is MessageKind.REQUEST:
            self._start(event, tracked)
            return
        pending = self._open.get(id(tracked))
        if pending is None:
            return
        call = pending.call
        if kind in (MessageKind.RESPONSE, MessageKind.ERROR) and call.response is None:
            call.response = event
        elif event.message.method == "notifications/progress":
            if len(call.progress) < MAX_EVENTS:
                call.progress.append(event)
            else:
                pending.dropped += 1
        if tracked.state not in LIVE_STATES:
            self._end(pending, tracked.ended_at if tracked.ended_at is not None else event.time)

    def _start(self, event: MessageSeen, tracked: TrackedRequest) -> None:
        parent = self._root(event.session_id, event.time)
        span_id = hex_id(f"{self._seed}|call|{self._calls}", 16)
        self._calls += 1
        pending = _Open(Call(event, tracked, self._requests), parent, span_id)
        if len(self._open) >= MAX_OPEN_CALLS:
            oldest = next(iter(self._open.values()))
            self._end(oldest, self._end_time(oldest))
        self._open[id(tracked)] = pending
        self._by_exchange.setdefault(event.exchange_id, []).append(pending)
        if event.message.id is not None:
            self._by_id[(event.session_id, typed_key(event.message.id))] = pending

    def _on_finding(self, finding: Finding) -> None:
        pending = None
        if finding.request_id is not None and not isinstance(finding.request_id, bool):
            pending = self._by_id.get((finding.session_id, typed_key(finding.request_id)))
        if pending is not None and len(pending.call.findings) < MAX_EVENTS:
            pending.call.findings.append(finding)
            return
        self._add_root_event(finding.session_id, finding.time, finding_event(finding, self.epoch))

    def _on_closed(self, event: ExchangeClosed) -> None:
        opened = self._exchanges.pop(event.exchange_id, None)
        started = self._streams.pop(event.exchange_id, None)
        own = started is None or started.stream in OWN_STREAMS or started.status >= 400
        for pending in self._by_exchange.pop(event.exchange_id, []):
            tracked = pending.call.tracked
            if tracked is not None and tracked.state not in LIVE_STATES:
                self._end(pending, tracked.ended_at or event.time)
            elif own and pending.call.request.direction is Direction.CLIENT_TO_SERVER:
                if tracked is None or tracked.task_id is None:
                    self._end(pending, event.time)  # its own stream ended without an answer
        if opened is not None and opened.method == "DELETE" and opened.session_id is not None:
            self._end_root(opened.session_id)

    def _end_time(self, pending: _Open) -> float:
        # A task ended by another request's answer (tasks/get) has its end; else it is now.
        end = pending.call.end
        return end if end is not None else self._now

    def _end(self, pending: _Open, end: float) -> None:
        """Take a request out of the open ones; its span is sent on the next loop turn."""
        tracked = pending.call.tracked
        if self._open.pop(id(tracked), None) is None:
            return
        exchange_id = pending.call.request.exchange_id
        siblings = self._by_exchange.get(exchange_id)
        if siblings is not None and pending in siblings:
            siblings.remove(pending)  # a few requests share an exchange at most (a batch)
            if not siblings:
                del self._by_exchange[exchange_id]
        self._ending.append((pending, end))

    def _schedule_flush(self) -> None:
        if self._flush_scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (events read from a file): sent at close
        self._flush_scheduled = True
        loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        ending, self._ending = self._ending, []
        for pending, end in ending:
            message = pending.call.request.message
            if message.id is not None:
                key = (pending.call.request.session_id, typed_key(message.id))
                if self._by_id.get(key) is pending:
                    del self._by_id[key]
            span = call_span(pending.call, pending.parent, pending.span_id, self.epoch, end)
            if pending.dropped:
                span.attributes["mcp_tap.progress.events_dropped"] = pending.dropped
            pending.parent.end = max(pending.parent.end, span.end)
            self._send(span)

    # --- sessions -------------------------------------------------------------------------

    def _root(self, session: str | None, time: float) -> Span:
        root = self._roots.get(session)
        if root is None:
            if len(self._roots) >= MAX_OPEN_SESSIONS:
                self._end_root(next(iter(self._roots)))
            seed = f"{self._seed}|{self._root_count}"
            self._root_count += 1
            root = self._roots[session] = session_span(
                seed, session, self._target, self.epoch(time)
            )
        root.end = max(root.end, self.epoch(time))
        return root

    def _add_root_event(self, session: str | None, time: float, event: SpanEvent) -> None:
        root = self._root(session, time)
        if len(root.events) < MAX_EVENTS:
            root.events.append(event)

    def _end_root(self, session: str | None) -> None:
        root = self._roots.pop(session, None)
        if root is None:
            return
        self._flush()  # its requests' spans first: a backend then has the parent last
        root.events.sort(key=lambda e: e.time)
        self._send(root)


def live_traces(
    endpoint: str,
    headers: Mapping[str, str],
    timeout: float,
    epoch0: float,
    target: str,
    version: str,
    warn: Callable[[str], None],
    exporter: SpanExporter | None = None,
    redact: Redactor | None = None,
) -> LiveTraces:
    """The subscriber `--otlp-endpoint` adds to a tap's bus."""
    sink = OtlpSink(endpoint, headers, timeout, version, warn, exporter)
    return LiveTraces(sink.send, epoch0, target, sink.close, redact)
