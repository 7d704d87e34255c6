"""The spans of `export --format otlp`, sent live to an OpenTelemetry collector.

`LiveTraces` is a tap subscriber: it correlates requests with their responses and progress
(its own `ProgressTracker`, which only correlates: the findings come on the bus from the
checkers), and when a request ends it builds the request's span with the file export's own
code (`otlp.call_span`): same names, attributes, progress and finding events. A request
ends at its response, its cancellation, when its own response stream closes without one,
or at shutdown. Each session is a trace under a root `mcp.session` span, which ends when the
client deletes the session (HTTP DELETE) or at shutdown.

A span is handed to `OtlpSink` a loop turn after its request ended, so the findings its
end caused (published on the bus while handling it) are on it. `OtlpSink` turns spans into
the SDK's `ReadableSpan`s and gives them to a `BatchSpanProcessor`, which exports them from
its own thread with the OTLP/HTTP exporter: `handle` appends to a queue and never waits on
the network. A collector that is down costs one warning line and the spans; `close` waits at
most `timeout` seconds for the last batch.

Memory is bounded: at most `MAX_OPEN_CALLS` requests wait for an end (the oldest is ended
early past that), a span keeps at most `MAX_EVENTS` events, the SDK queue holds 2048 spans.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import urlsplit

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from mcp_tap.analysis.progress_stats import LIVE_STATES, TrackedRequest, typed_key
from mcp_tap.analysis.tracker import ProgressTracker
from mcp_tap.export.otlp import (
    SPAN_KIND_CLIENT,
    STATUS_ERROR,
    Span,
    SpanEvent,
    call_span,
    fault_event,
    finding_event,
    hex_id,
    session_span,
)
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

MAX_OPEN_CALLS = 10_000  # requests waiting for their end; past it the oldest ends unanswered
MAX_OPEN_SESSIONS = 1_000  # session roots kept open; past it the oldest ends
MAX_EVENTS = 128  # events on one span, as the SDK's default limit
TRACES_PATH = "/v1/traces"
OWN_STREAMS = (StreamKind.POST_SSE, StreamKind.JSON_RESPONSE)

SpanSend = Callable[[Span], None]


def traces_url(endpoint: str) -> str:
    """A collector's base URL gets OTLP/HTTP's `/v1/traces`; a URL with a path is kept."""
    parts = urlsplit(endpoint)
    if parts.path in ("", "/"):
        return endpoint.rstrip("/") + TRACES_PATH
    return endpoint


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
    """

    def __init__(
        self,
        send: SpanSend,
        epoch0: float,
        target: str,
        close_sink: Callable[[], None] = lambda: None,
    ) -> None:
        self._send = send
        self._close_sink = close_sink
        self._epoch0 = epoch0
        self._target = target
        self._seed = secrets.token_hex(8)  # ids unique to this run, derived as the file's
        self._tracker = ProgressTracker(lambda _event: None, emit_findings=False)
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
        self._tracker.handle(event)
        time = getattr(event, "time", None)
        if isinstance(time, float | int):
            self._now = max(self._now, float(time))
        if isinstance(event, MessageSeen):
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
        pending = _Open(Call(event, tracked), parent, span_id)
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


# --- the SDK side ---------------------------------------------------------------------------


def _nanos(seconds: float) -> int:
    return round(seconds * 1_000_000_000)


def _context(trace_id: str, span_id: str) -> SpanContext:
    sampled = TraceFlags(TraceFlags.SAMPLED)
    return SpanContext(int(trace_id, 16), int(span_id, 16), is_remote=False, trace_flags=sampled)


def readable_span(span: Span, resource: Resource, scope: InstrumentationScope) -> ReadableSpan:
    """The SDK's form of a span built from tap events (as a receiver builds them: no tracer,
    the ids and times are the observed ones)."""
    parent = _context(span.trace_id, span.parent_id) if span.parent_id else None
    status = (
        Status(StatusCode.ERROR, span.status_message or None)
        if span.status_code == STATUS_ERROR
        else Status(StatusCode.UNSET)
    )
    return ReadableSpan(
        span.name,
        context=_context(span.trace_id, span.span_id),
        parent=parent,
        resource=resource,
        attributes=dict(span.attributes),
        events=[Event(e.name, dict(e.attributes), _nanos(e.time)) for e in span.events],
        kind=SpanKind.CLIENT if span.kind == SPAN_KIND_CLIENT else SpanKind.INTERNAL,
        status=status,
        start_time=_nanos(span.start),
        end_time=_nanos(max(span.start, span.end)),
        instrumentation_scope=scope,
    )


_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")


def failure_reason(message: str) -> str:
    """The gist of an SDK log line: `Connection refused` out of a page of urllib3 text."""
    match = _ERRNO.search(message)
    text = match.group(1) if match else message
    text = " ".join(text.split())
    return text if len(text) <= 160 else text[:157] + "..."


class _Quiet(logging.Handler):
    """Keeps the OpenTelemetry SDK's log lines off stderr, telling `on_failure` instead."""

    def __init__(self, on_failure: Callable[[str], None]) -> None:
        super().__init__(logging.WARNING)
        self._on_failure = on_failure

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record must not reach the exporter thread
            message = str(record.msg)
        self._on_failure(failure_reason(message))


class _Guarded(SpanExporter):
    """The OTLP exporter, its failures (and its retries) turned into one warning line.

    While the sink closes, a failing export gives up at once instead of retrying.
    """

    def __init__(self, exporter: SpanExporter, endpoint: str, warn: Callable[[str], None]):
        self._exporter = exporter
        self._endpoint = endpoint
        self._warn = warn
        self._lock = threading.Lock()
        self._warned = False
        self._stopped = False
        self.closing = False
        self.failed = False
        self.quiet = _Quiet(self._on_log)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self.closing and self.failed:
            return SpanExportResult.FAILURE  # the collector is down: do not wait at exit
        try:
            result = self._exporter.export(spans)
        except Exception as error:  # the exporter thread must live on
            self.warn_once(failure_reason(str(error)))
            result = SpanExportResult.FAILURE
        if result is SpanExportResult.SUCCESS:
            self.failed = False
            return result
        self.failed = True
        self.warn_once("the export failed")
        return result

    def _on_log(self, reason: str) -> None:
        if self._stopped:
            return  # what the exporter says while it stops is not news
        self.warn_once(reason)
        if self.closing:  # a retry or a failure while closing: the collector is not answering
            self.failed = True
            self.shutdown()  # ends the retry's wait at once

    def warn_once(self, reason: str) -> None:
        with self._lock:
            if self._warned:
                return
            self._warned = True
        self._warn(
            f"mcp-tap: warning: cannot send traces to {self._endpoint} ({reason}); "
            "mcp-tap goes on, and spans the collector does not take are dropped silently"
        )

    def shutdown(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class OtlpSink:
    """Spans to a collector over OTLP/HTTP, batched and sent from the SDK's own thread.

    `warn` gets at most one line in the sink's life, from any thread.
    """

    def __init__(
        self,
        endpoint: str,
        headers: Mapping[str, str],
        timeout: float,
        version: str,
        warn: Callable[[str], None],
        exporter: SpanExporter | None = None,
    ) -> None:
        url = traces_url(endpoint)
        inner = exporter or OTLPSpanExporter(endpoint=url, headers=dict(headers), timeout=timeout)
        self._guard = _Guarded(inner, url, warn)
        logger = logging.getLogger("opentelemetry")
        logger.addHandler(self._guard.quiet)
        logger.propagate = False  # the SDK logs each failed batch: one line is ours to print
        self._timeout = timeout
        self._processor = BatchSpanProcessor(self._guard)
        self._resource = Resource({"service.name": "mcp-tap", "service.version": version})
        self._scope = InstrumentationScope("mcp-tap", version)

    def send(self, span: Span) -> None:
        """Queue one span; never blocks (a full queue drops the oldest)."""
        self._processor.on_end(readable_span(span, self._resource, self._scope))

    def close(self) -> None:
        """Send what is queued, waiting at most `timeout` seconds; then stop."""
        self._guard.closing = True
        closer = threading.Thread(target=self._processor.shutdown, name="mcp-tap-otlp", daemon=True)
        closer.start()
        closer.join(self._timeout)
        if closer.is_alive():
            self._guard.warn_once(f"no answer in {self._timeout:g} s at exit")


def live_traces(
    endpoint: str,
    headers: Mapping[str, str],
    timeout: float,
    epoch0: float,
    target: str,
    version: str,
    warn: Callable[[str], None],
    exporter: SpanExporter | None = None,
) -> LiveTraces:
    """The subscriber `--otlp-endpoint` adds to a tap's bus."""
    sink = OtlpSink(endpoint, headers, timeout, version, warn, exporter)
    return LiveTraces(sink.send, epoch0, target, sink.close)
