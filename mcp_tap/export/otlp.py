"""A recording as OpenTelemetry traces, in the OTLP/JSON encoding (what a collector's file
exporter writes and its OTLP/HTTP receiver accepts as `application/json`).

One span per JSON-RPC request, following OpenTelemetry's MCP semantic conventions (status:
development): named `{mcp.method.name} {target}` (the tool or prompt name, for tools/call
and prompts/get) or `{mcp.method.name}`, kind CLIENT (the sender's side: what a tap sees is
the call as its sender made it), from the request to its response, its cancellation, or its
stream's end, with `mcp.method.name`, `jsonrpc.request.id`, `mcp.session.id`,
`mcp.protocol.version`, `gen_ai.tool.name`, `error.type` (`tool_error` for a result with
`isError: true`, as the conventions say) and their kin. Its progress
notifications are span events named `notifications/progress`; its findings are span events
named `mcp_tap.finding` with `mcp_tap.finding.severity` (info, warning, error), the rule and
the detail. Attributes without a convention are under `mcp_tap.`.

Each MCP session is one trace under a root span `mcp.session` (requests of the session-less
2026-07-28 protocol share one such trace per recording), which also holds the session's
findings that name no request and its faults. Ids are derived from the recording's start and
the session, so exporting a recording twice gives the same ids. As the OTLP/JSON spec says
(and unlike protobuf's own JSON mapping), trace and span ids are hex, times are nanoseconds
since the epoch written as strings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mcp_tap.analysis.origin import target_name
from mcp_tap.export.session import TOOL_ERROR, Call, Session
from mcp_tap.protocol.codec import event_to_dict
from mcp_tap.protocol.events import Fault, Finding, MessageKind

SPAN_KIND_INTERNAL = 1
SPAN_KIND_CLIENT = 3
STATUS_UNSET = 0
STATUS_ERROR = 2
FAILED_OUTCOMES = frozenset({"failed", "cancelled", "abandoned", "unanswered"})

AttributeValue = str | int | float | bool


@dataclass
class SpanEvent:
    """A point in a span's life: a progress notification, a finding, a fault."""

    name: str
    time: float  # seconds since the epoch
    attributes: dict[str, AttributeValue] = field(default_factory=dict)


@dataclass
class Span:
    """One span, independent of any encoding (OTLP/JSON here; the SDK can take it too)."""

    name: str
    trace_id: str  # 32 hex digits
    span_id: str  # 16 hex digits
    parent_id: str | None
    kind: int
    start: float  # seconds since the epoch
    end: float
    attributes: dict[str, AttributeValue] = field(default_factory=dict)
    events: list[SpanEvent] = field(default_factory=list)
    status_code: int = STATUS_UNSET
    status_message: str = ""


def hex_id(seed: str, digits: int) -> str:
    """A span or trace id of `digits` hex digits derived from `seed` (never all zeros)."""
    value = hashlib.sha256(seed.encode("utf-8")).hexdigest()[:digits]
    return value if value.strip("0") else "1".rjust(digits, "0")  # an all-zero id is invalid


def span_name(method: str, target: str | None) -> str:
    """`tools/call get_weather`, `prompts/get summarize`, else the method alone."""
    if target and method in ("tools/call", "prompts/get"):
        return f"{method} {target}"
    return method


def session_span(seed: str, session_id: str | None, target: str, at: float) -> Span:
    """The root span `mcp.session` of one session's trace, from `at` (epoch seconds) on."""
    span = Span(
        "mcp.session",
        hex_id(f"{seed}|trace|{session_id}", 32),
        hex_id(f"{seed}|root|{session_id}", 16),
        None,
        SPAN_KIND_INTERNAL,
        at,
        at,
    )
    span.attributes["mcp_tap.recording.target"] = target
    if session_id is not None:
        span.attributes["mcp.session.id"] = session_id
    return span


def build_spans(session: Session) -> list[Span]:
    """Every span of an analyzed recording: a root per session, a child per request."""
    seed = session.started.isoformat()
    target = target_name(session.header)
    roots: dict[str | None, Span] = {}
    spans: list[Span] = []

    def root(session_id: str | None, at: float) -> Span:
        span = roots.get(session_id)
        if span is None:
            span = roots[session_id] = session_span(seed, session_id, target, session.epoch(at))
            spans.append(span)
        span.start = min(span.start, session.epoch(at))
        span.end = max(span.end, session.epoch(at))
        return span

    for index, call in enumerate(session.calls):
        parent = root(call.request.session_id, call.start)
        end = call.end
        if end is None:  # never answered: up to the last thing its exchange showed
            exchange = session.exchanges.get(call.request.exchange_id)
            end = max([call.start] + ([exchange.end] if exchange else []))
            end = max([end] + [p.time for p in call.progress])
        span = call_span(call, parent, hex_id(f"{seed}|call|{index}", 16), session.epoch, end)
        parent.end = max(parent.end, span.end)
        spans.append(span)
    attached = {id(f) for call in session.calls for f in call.findings}
    for finding in session.findings:
        if id(finding) not in attached:
            event = finding_event(finding, session.epoch)
            root(finding.session_id, finding.time).events.append(event)
    for fault in session.faults:
        exchange = session.exchanges.get(fault.exchange_id) if fault.exchange_id else None
        session_id = exchange.opened.session_id if exchange and exchange.opened else None
        root(session_id, fault.time).events.append(fault_event(fault, session.epoch))
    for span in roots.values():
        span.events.sort(key=lambda e: e.time)
    return spans


def call_span(
    call: Call, parent: Span, span_id: str, epoch: Callable[[float], float], end: float
) -> Span:
    """The span of one request, a child of its session's `parent`, ending at `end`.

    `epoch` turns a tap time (seconds since the tap started) into seconds since 1970.
    """
    message = call.request.message
    span = Span(
        span_name(call.method, call.target),
        parent.trace_id,
        span_id,
        parent.span_id,
        SPAN_KIND_CLIENT,
        epoch(call.start),
        epoch(end),
    )
    attrs = span.attributes
    attrs["mcp.method.name"] = call.method
    attrs["jsonrpc.protocol.version"] = "2.0"
    if message.id is not None:
        attrs["jsonrpc.request.id"] = str(message.id)
    if call.request.session_id is not None:
        attrs["mcp.session.id"] = call.request.session_id
    if call.tracked is not None and call.tracked.revision:
        attrs["mcp.protocol.version"] = call.tracked.revision
    attrs["network.transport"] = "tcp"
    attrs["network.protocol.name"] = "http"
    target = call.target
    if target is not None:
        if call.method == "tools/call":
            attrs["gen_ai.tool.name"] = target
            attrs["gen_ai.operation.name"] = "execute_tool"
        elif call.method == "prompts/get":
            attrs["gen_ai.prompt.name"] = target
        elif call.method.startswith("resources/"):
            attrs["mcp.resource.uri"] = target
    if call.number:
        attrs["mcp_tap.call"] = call.number
    attrs["mcp_tap.direction"] = call.request.direction.value
    attrs["mcp_tap.exchange_id"] = call.request.exchange_id
    attrs["mcp_tap.outcome"] = call.outcome
    if message.has_progress_token:
        attrs["mcp_tap.progress_token"] = str(message.progress_token)
    response = call.response
    if response is not None and response.message.kind is MessageKind.ERROR:
        error = response.message.payload.get("error")
        code = error.get("code") if isinstance(error, dict) else None
        text = error.get("message") if isinstance(error, dict) else None
        attrs["error.type"] = str(code) if code is not None else "jsonrpc-error"
        if code is not None:
            attrs["rpc.response.status_code"] = str(code)
        span.status_code, span.status_message = STATUS_ERROR, str(text or "error response")
    elif call.outcome == TOOL_ERROR:
        # the MCP semantic conventions: a CallToolResult with isError true is `tool_error`
        attrs["error.type"] = "tool_error"
        span.status_code, span.status_message = STATUS_ERROR, "tool_error"
    elif call.outcome in FAILED_OUTCOMES:
        attrs["error.type"] = call.outcome
        span.status_code, span.status_message = STATUS_ERROR, call.outcome
    for seen in call.progress:
        params = seen.message.payload.get("params")
        params = params if isinstance(params, dict) else {}
        event = SpanEvent("notifications/progress", epoch(seen.time))
        for key in ("progress", "total", "message"):
            value = params.get(key)
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                event.attributes[f"mcp_tap.progress.{key}"] = value
        span.events.append(event)
    span.events.extend(finding_event(f, epoch) for f in call.findings)
    span.events.sort(key=lambda e: e.time)
    return span


def finding_event(finding: Finding, epoch: Callable[[float], float]) -> SpanEvent:
    """A finding as the span event `mcp_tap.finding`, with its severity, rule and detail."""
    attrs: dict[str, AttributeValue] = {
        "mcp_tap.finding.severity": finding.severity.value,
        "mcp_tap.finding.rule": finding.rule,
        "mcp_tap.finding.detail": finding.detail,
    }
    if finding.progress_token is not None:
        attrs["mcp_tap.progress_token"] = str(finding.progress_token)
    return SpanEvent("mcp_tap.finding", epoch(finding.time), attrs)


def fault_event(fault: Fault, epoch: Callable[[float], float]) -> SpanEvent:
    """A fault (upstream down, reset, timeout...) as the span event `mcp_tap.fault`."""
    data = event_to_dict(fault)
    attrs: dict[str, AttributeValue] = {"mcp_tap.fault.kind": data["kind"]}
    attrs["mcp_tap.fault.detail"] = data["detail"]
    return SpanEvent("mcp_tap.fault", epoch(fault.time), attrs)


# --- OTLP/JSON ----------------------------------------------------------------------------


def _nanos(seconds: float) -> str:
    return str(round(seconds * 1_000_000_000))


def _value(value: AttributeValue) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}  # int64 is a string in the JSON mapping
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": value}


def _attributes(values: Mapping[str, AttributeValue]) -> list[dict[str, Any]]:
    return [{"key": key, "value": _value(value)} for key, value in values.items()]


def _span_json(span: Span) -> dict[str, Any]:
    data: dict[str, Any] = {
        "traceId": span.trace_id,
        "spanId": span.span_id,
        "name": span.name,
        "kind": span.kind,
        "startTimeUnixNano": _nanos(span.start),
        "endTimeUnixNano": _nanos(max(span.start, span.end)),
        "attributes": _attributes(span.attributes),
        "events": [
            {
                "timeUnixNano": _nanos(event.time),
                "name": event.name,
                "attributes": _attributes(event.attributes),
            }
            for event in span.events
        ],
        "status": {"code": span.status_code},
    }
    if span.parent_id is not None:
        data["parentSpanId"] = span.parent_id
    if span.status_message:
        data["status"]["message"] = span.status_message
    return data


def to_otlp(session: Session) -> dict[str, Any]:
    """An `ExportTraceServiceRequest` in OTLP/JSON for an analyzed recording."""
    version = str(session.header.get("mcp_tap_version", "unknown"))
    resource = {
        "service.name": "mcp-tap",
        "service.version": version,
        "mcp_tap.recording.started": session.started.isoformat(),
    }
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": _attributes(resource)},
                "scopeSpans": [
                    {
                        "scope": {"name": "mcp-tap", "version": version},
                        "spans": [_span_json(span) for span in build_spans(session)],
                    }
                ],
            }
        ]
    }
