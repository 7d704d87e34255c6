"""What `mcp-tap report` shows, built in one pass over the events and bounded whatever the size.

The page's facts count every event; what it lists is capped (`ReportLimits`): the first
`max_rows` messages and calls, the first `max_charts` progress charts, each thinned to at most
`max_points` points (every other point dropped whenever it fills up, the last one always
kept). What was left out is counted and said on the page. Correlation is the progress
tracker's (`ProgressTracker.match`), which keeps a bounded state itself; a call is held until
it ends only while it is on the page or unanswered.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from mcp_tap.analysis.calls import CallNumbers
from mcp_tap.analysis.origin import target_name
from mcp_tap.analysis.progress_stats import RequestState, TrackedRequest
from mcp_tap.analysis.tracker import ProgressTracker
from mcp_tap.export.har import iso
from mcp_tap.export.session import TOOL_ERROR, parse_started
from mcp_tap.protocol.events import (
    Fault,
    Finding,
    MessageKind,
    MessageSeen,
    TapEvent,
)
from mcp_tap.protocol.jsonrpc import is_tool_error, progress_params

MAX_SUMMARY = 160  # characters of a message shown in its table row
MAX_TEXT = 20_000  # characters of a message shown when its row is opened
PROGRESS = "notifications/progress"


@dataclass(frozen=True)
class ReportLimits:
    """How much of a recording one page lists (`mcp-tap report --max-rows ...`)."""

    max_rows: int = 5000  # messages in the table, calls on the timeline, findings listed
    max_charts: int = 100  # progress charts
    max_points: int = 1000  # points per chart


@dataclass
class _Call:
    """A call while it is followed: its timeline row and chart, if it has them on the page."""

    tracked: TrackedRequest | None
    row: dict[str, Any] | None
    chart: dict[str, Any] | None
    answered: MessageKind | None = None
    tool_error: bool = False  # answered with a result that says isError: true
    stride: int = 1  # a chart keeps every `stride`-th point
    seen: int = 0  # points offered to the chart
    last: dict[str, Any] | None = None  # the latest point, kept even when thinned out


@dataclass
class ReportBuilder:
    """Subscriber-like: `handle` every event in order, then `data()` for the page."""

    header: dict[str, Any]
    limits: ReportLimits = field(default_factory=ReportLimits)

    def __post_init__(self) -> None:
        # The recording holds the findings judged live: the tracker only correlates.
        self._tracker = ProgressTracker(lambda _event: None, emit_findings=False)
        self._numbers = CallNumbers()  # the numbers `show --call` takes
        self._open: dict[int, _Call] = {}  # id(tracked) -> the call, until it ends
        self._latest: dict[tuple[str | None, tuple[str, Any]], _Call] = {}  # listed calls
        self._outcomes: Counter[str] = Counter()
        self._exchanges: set[int] = set()
        self._sessions: dict[str, None] = {}
        self._revisions: dict[str, None] = {}
        self.duration = 0.0
        self.calls: list[dict[str, Any]] = []
        self.charts: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        self.findings: list[dict[str, Any]] = []
        self.faults: list[dict[str, Any]] = []
        self.counts: Counter[str] = Counter()  # everything seen, listed or not

    def handle(self, event: TapEvent) -> None:
        """Count, correlate and (while below the limits) list one event."""
        self.duration = max(self.duration, event.time)
        self._tracker.handle(event)
        number = self._numbers.see(event)
        exchange_id, session_id = (
            getattr(event, "exchange_id", None),
            getattr(event, "session_id", None),
        )
        if exchange_id is not None:
            self._exchanges.add(exchange_id)
        if isinstance(session_id, str):
            self._sessions.setdefault(session_id)
        if isinstance(event, Finding):
            self._finding(event)
        elif isinstance(event, Fault):
            self.counts["faults"] += 1
            if len(self.faults) < self.limits.max_rows:
                self.faults.append({"t": event.time, "kind": event.kind, "detail": event.detail})
        elif isinstance(event, MessageSeen):
            self._message(event, number)

    def _message(self, event: MessageSeen, number: int | None) -> None:
        self.counts["messages"] += 1
        if len(self.messages) < self.limits.max_rows:
            self.messages.append(_message(len(self.messages), event, number))
        tracked = self._tracker.match(event)
        kind = event.message.kind
        if kind is MessageKind.REQUEST:
            self._request(event, tracked, number)
            return
        call = self._open.get(id(tracked)) if tracked is not None else None
        if call is None:
            return
        if kind in (MessageKind.RESPONSE, MessageKind.ERROR) and call.answered is None:
            call.answered = kind
            call.tool_error = is_tool_error(event.message)
            if call.row is not None:
                call.row["end"] = event.time
            if call.chart is not None:
                call.chart["end"] = event.time
            self._end(call)
        elif event.message.method == PROGRESS:
            if call.row is not None:
                call.row["progress"] += 1
            if call.chart is not None:
                self._point(call, event)

    def _request(
        self, event: MessageSeen, tracked: TrackedRequest | None, number: int | None
    ) -> None:
        self.counts["calls"] += 1
        message = event.message
        row = chart = None
        base = {
            "call": number,
            "method": message.method or "?",
            "target": tracked.label if tracked is not None else None,
            "id": message.id,
            "start": event.time,
            "end": None,
            "outcome": "unanswered",
        }
        if len(self.calls) < self.limits.max_rows:
            row = {
                **base,
                "session": event.session_id,
                "dir": event.direction.value,
                "exchange": event.exchange_id,
                "progress": 0,
                "findings": 0,
            }
            self.calls.append(row)
        if message.has_progress_token:
            self.counts["charts"] += 1
            if len(self.charts) < self.limits.max_charts:
                chart = {
                    **base,
                    "token": message.progress_token,
                    "determinate": False,
                    "points": [],
                    "findings": [],
                    "sampled": None,
                }
                self.charts.append(chart)
        call = _Call(tracked, row, chart)
        if row is not None or chart is not None:
            self._latest[(event.session_id, _typed(message.id))] = call
        if tracked is not None:
            self._open[id(tracked)] = call
        else:
            self._outcomes["unanswered"] += 1

    def _point(self, call: _Call, event: MessageSeen) -> None:
        assert call.chart is not None
        params = progress_params(event.message) or {}
        total = _number(params.get("total"))
        point = {
            "t": event.time,
            "progress": _number(params.get("progress")),
            "total": total,
            "message": params.get("message") if isinstance(params.get("message"), str) else None,
        }
        if total is not None:
            call.chart["determinate"] = True
        call.last = point
        call.seen += 1
        if (call.seen - 1) % call.stride:
            return
        points: list[dict[str, Any]] = call.chart["points"]
        points.append(point)
        if len(points) >= 2 * self.limits.max_points:
            del points[1::2]  # thin out: every other point goes, the first stays
            call.stride *= 2

    def _finding(self, event: Finding) -> None:
        self.counts["findings"] += 1
        shown = _finding(event)
        if len(self.findings) < self.limits.max_rows:
            self.findings.append(shown)
        if event.request_id is None:
            return
        call = self._latest.get((event.session_id, _typed(event.request_id)))
        if call is not None:
            if call.row is not None:
                call.row["findings"] += 1
            if call.chart is not None:
                call.chart["findings"].append(shown)

    def _end(self, call: _Call) -> None:
        """Settle a call's outcome (at its response, or at the end of the recording)."""
        outcome = _outcome(call)
        self._outcomes[outcome] += 1
        for shown in (call.row, call.chart):
            if shown is not None:
                shown["outcome"] = outcome
                if shown["end"] is None and call.tracked is not None:
                    shown["end"] = call.tracked.ended_at
        chart = call.chart
        if chart is not None and call.last is not None:
            if chart["points"][-1] is not call.last:
                chart["points"].append(call.last)
            if call.stride > 1:
                chart["sampled"] = call.seen
        if call.tracked is not None:
            self._open.pop(id(call.tracked), None)
            if call.tracked.revision:
                self._revisions.setdefault(call.tracked.revision)

    def data(self, warnings: Iterable[str] = ()) -> dict[str, Any]:
        """Everything the page shows, as plain JSON data (times in seconds from the start)."""
        for call in list(self._open.values()):
            self._end(call)
        started = parse_started(self.header.get("started"))
        facts: list[tuple[str, Any]] = [
            ("target", target_name(self.header)),
            ("started", iso(started)),
            ("duration", f"{self.duration:.3f} s"),
            ("sessions", ", ".join(self._sessions) or "none (stateless)"),
            ("protocol", ", ".join(self._revisions) or "unknown"),
            ("calls", self.counts["calls"]),
            ("exchanges", len(self._exchanges)),
            ("messages", self.counts["messages"]),
            ("requests", ", ".join(f"{n} {o}" for o, n in sorted(self._outcomes.items()))),
            ("findings", self.counts["findings"]),
            ("faults", self.counts["faults"]),
            ("recorded by", f"mcp-tap {self.header.get('mcp_tap_version', '?')}"),
        ]
        left_out = {
            "messages": self.counts["messages"] - len(self.messages),
            "calls": self.counts["calls"] - len(self.calls),
            "charts": self.counts["charts"] - len(self.charts),
            "findings": self.counts["findings"] - len(self.findings),
            "faults": self.counts["faults"] - len(self.faults),
        }
        notes = [f"{n} {what} left out of this page" for what, n in left_out.items() if n > 0]
        if any(chart["sampled"] for chart in self.charts):
            notes.append(f"charts with over {self.limits.max_points} points are thinned")
        limit_note = " (see mcp-tap report --max-rows, --max-charts, --max-points)"
        return {
            "facts": facts,
            "duration": self.duration,
            "calls": self.calls,
            "progress": self.charts,
            "findings": self.findings,
            "faults": self.faults,
            "messages": self.messages,
            "left_out": left_out,
            "warnings": [*warnings, *(note + limit_note for note in notes)],
        }


def report_data(
    header: dict[str, Any],
    events: Iterable[TapEvent],
    limits: ReportLimits | None = None,
    warnings: Iterable[str] = (),
) -> dict[str, Any]:
    """The page's data for `events`, read once."""
    builder = ReportBuilder(header, limits or ReportLimits())
    for event in events:
        builder.handle(event)
    return builder.data(warnings)


def _outcome(call: _Call) -> str:
    """completed, tool error, failed, cancelled, abandoned, or unanswered (as `Call.outcome`)."""
    tracked = call.tracked
    if call.answered is MessageKind.ERROR:
        return RequestState.FAILED.value
    if call.answered is not None:
        if tracked is None or tracked.state is not RequestState.CANCELLED:
            return TOOL_ERROR if call.tool_error else RequestState.COMPLETED.value
    if tracked is not None and tracked.state not in (RequestState.ACTIVE, RequestState.TASK):
        return tracked.state.value
    return "unanswered"


def _typed(value: Any) -> tuple[str, Any]:
    # "1" and 1 are different JSON-RPC ids
    return (type(value).__name__, value)


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value == value:
        return float(value) if abs(value) != float("inf") else None
    return None


def _finding(finding: Finding) -> dict[str, Any]:
    token = finding.progress_token
    return {
        "t": finding.time,
        "severity": finding.severity.value,
        "rule": finding.rule,
        "detail": finding.detail,
        "id": finding.request_id,
        "token": token if isinstance(token, str | int | float | bool) or token is None else None,
        "session": finding.session_id,
    }


def _message(index: int, event: MessageSeen, number: int | None) -> dict[str, Any]:
    message = event.message
    if message.raw is not None:
        text = message.raw
    elif message.payload is None:
        text = message.problem or ""
    else:
        text = json.dumps(message.payload, indent=2, ensure_ascii=False, default=str)
    if len(text) > MAX_TEXT:
        text = f"{text[:MAX_TEXT]}\n... ({len(text) - MAX_TEXT} more characters)"
    return {
        "i": index,
        "t": event.time,
        "dir": event.direction.value,
        "kind": message.kind.value,
        "method": message.method,
        "id": message.id,
        "call": number,
        "exchange": event.exchange_id,
        "session": event.session_id,
        "stream": event.stream.value,
        "summary": _summary(event),
        "text": text,
    }


def _summary(event: MessageSeen) -> str:
    message = event.message
    if message.kind is MessageKind.INVALID:
        return message.problem or "invalid"
    if message.raw is not None:
        return message.raw[:MAX_SUMMARY]
    payload = message.payload if isinstance(message.payload, dict) else {}
    part = payload.get("params", payload.get("result", payload.get("error")))
    if message.method == PROGRESS and isinstance(part, dict):
        total = part.get("total")
        text = f"{part.get('progress')}" + (f"/{total}" if total is not None else "")
        if isinstance(part.get("message"), str):
            text += f" {part['message']}"
        return text[:MAX_SUMMARY]
    if part is None:
        return ""
    text = json.dumps(part, ensure_ascii=False, separators=(",", ":"), default=str)
    return text[:MAX_SUMMARY]
