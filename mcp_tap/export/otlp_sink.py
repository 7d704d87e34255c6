"""Spans to an OpenTelemetry collector: the SDK's batch exporter, its failures made quiet.

`OtlpSink` turns each `otlp.Span` into the SDK's `ReadableSpan` (`readable_span`: the ids and
times observed, no tracer) and gives it to a `BatchSpanProcessor`, which exports from its own
thread with the OTLP/HTTP exporter: `send` appends to a queue and never waits on the network.
A collector that is down costs one warning line (`warn`, from any thread) and the spans it
does not take; the SDK's own log lines and retries are kept off stderr. `close` waits at most
`timeout` seconds for the last batch.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import urlsplit

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from mcp_tap.export.otlp import SPAN_KIND_CLIENT, STATUS_ERROR, Span

TRACES_PATH = "/v1/traces"


def traces_url(endpoint: str) -> str:
    """A collector's base URL gets OTLP/HTTP's `/v1/traces`; a URL with a path is kept."""
    parts = urlsplit(endpoint)
    if parts.path in ("", "/"):
        return endpoint.rstrip("/") + TRACES_PATH
    return endpoint


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
