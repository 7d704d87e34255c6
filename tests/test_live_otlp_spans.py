"""The live OTLP subscriber builds the spans `export --format otlp` builds from a recording."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from mcp_tap.analysis.tracker import ProgressTracker
from mcp_tap.analysis.wire_checks import WireChecker
from mcp_tap.export.live_otlp import LiveTraces
from mcp_tap.export.otlp import Span, build_spans
from mcp_tap.export.otlp_sink import failure_reason, traces_url
from mcp_tap.export.session import analyze
from mcp_tap.protocol.events import (
    Direction,
    ExchangeClosed,
    ExchangeOpened,
    Finding,
    MessageSeen,
    ResponseStarted,
    StreamKind,
)
from mcp_tap.protocol.jsonrpc import classify_text
from mcp_tap.recording.reader import load_recording
from mcp_tap.tap.bus import TapBus
from tests.export_sample import write_odd_recording
from tests.samples import SAMPLES

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[1]


def shape(span: Span) -> tuple[Any, ...]:
    """A span without its ids (the live ones are this run's own), times to the microsecond."""
    events = tuple(
        (e.name, round(e.time, 6), tuple(sorted(e.attributes.items()))) for e in span.events
    )
    attributes = tuple(sorted(span.attributes.items()))
    times = (round(span.start, 6), round(span.end, 6))
    return (span.name, span.kind, times, attributes, events, span.status_code, span.status_message)


def live_spans(path: Path) -> tuple[list[Span], list[Span]]:
    """The spans of a recording from the file export, and from its events fed live."""
    recording = load_recording(path)
    session = analyze(recording)
    sent: list[Span] = []
    live = LiveTraces(sent.append, session.started.timestamp(), str(recording.header["target"]))
    for event in recording.events:
        live.handle(event)
    live.close()
    return build_spans(session), sent


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.stem)
def test_live_spans_are_the_file_exports(sample: Path) -> None:
    exported, sent = live_spans(sample)
    assert Counter(map(shape, sent)) == Counter(map(shape, exported))


def test_findings_faults_and_errors_arrive_as_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "odd.yaml"
    write_odd_recording(path)
    exported, sent = live_spans(path)
    assert Counter(map(shape, sent)) == Counter(map(shape, exported))
    by_id = {s.span_id: s for s in sent}
    for span in sent:  # every request under its session's root, in its trace
        if span.parent_id is not None:
            assert by_id[span.parent_id].trace_id == span.trace_id
    assert any(e.name == "mcp_tap.finding" for s in sent for e in s.events)
    assert any(e.name == "mcp_tap.fault" for s in sent for e in s.events)


def test_on_a_live_bus_each_span_carries_the_findings_its_end_caused(tmp_path: Path) -> None:
    """As in the proxy: the checkers publish findings while the bus drains, one event a turn."""
    path = tmp_path / "odd.yaml"
    write_odd_recording(path)
    recording = load_recording(path)
    session = analyze(recording)
    sent: list[Span] = []

    async def run() -> None:
        bus = TapBus()
        bus.subscribe(ProgressTracker(bus.publish))
        bus.subscribe(WireChecker(bus.publish))
        bus.subscribe(LiveTraces(sent.append, session.started.timestamp(), "odd"))
        for event in recording.events:
            if not isinstance(event, Finding):  # the checkers find them again
                bus.publish(event)
                await asyncio.sleep(0)
        await asyncio.sleep(0.01)
        spans_before_close = len(sent)
        bus.close()
        assert spans_before_close > 0  # sent as requests ended, not all at the end

    asyncio.run(run())
    findings = Counter(
        (s.name, e.attributes["mcp_tap.finding.rule"])
        for s in sent
        for e in s.events
        if e.name == "mcp_tap.finding"
    )
    expected = Counter(
        (s.name, e.attributes["mcp_tap.finding.rule"])
        for s in build_spans(session)
        for e in s.events
        if e.name == "mcp_tap.finding"
    )
    assert findings == expected and findings


def test_a_finding_that_the_response_causes_is_on_the_span_it_ends() -> None:
    """progress-never-sent is published while the response is handled, after the span ended."""
    request = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "slow", "arguments": {}, "_meta": {"progressToken": "t"}},
    }
    response = {"jsonrpc": "2.0", "id": 1, "result": {"content": []}}
    events = [
        ExchangeOpened(1, 0.1, "POST", "/mcp", (), "s1"),
        seen(0.1, Direction.CLIENT_TO_SERVER, StreamKind.REQUEST_BODY, request),
        ResponseStarted(1, 0.2, 200, (), StreamKind.JSON_RESPONSE, "s1"),
        seen(0.3, Direction.SERVER_TO_CLIENT, StreamKind.JSON_RESPONSE, response),
        ExchangeClosed(1, 0.3, "complete"),
    ]
    sent: list[Span] = []

    async def run() -> None:
        bus = TapBus()
        bus.subscribe(ProgressTracker(bus.publish))
        bus.subscribe(LiveTraces(sent.append, 1_700_000_000.0, "test"))
        for event in events:
            bus.publish(event)
            await asyncio.sleep(0)
        await asyncio.sleep(0.01)
        assert [s.name for s in sent] == ["tools/call slow"]  # sent before close
        bus.close()

    asyncio.run(run())
    call, root = sent
    assert root.name == "mcp.session" and root.attributes["mcp.session.id"] == "s1"
    assert (call.start, call.end) == (1_700_000_000.1, 1_700_000_000.3)
    rules = [e.attributes["mcp_tap.finding.rule"] for e in call.events]
    assert rules == ["progress-never-sent"]
    assert root.events == []


def seen(time: float, direction: Direction, stream: StreamKind, body: object) -> MessageSeen:
    (message,) = classify_text(json.dumps(body))
    return MessageSeen(1, time, direction, stream, "s1", message)


def test_a_collector_url_without_a_path_gets_the_traces_path() -> None:
    assert traces_url("http://127.0.0.1:4318") == "http://127.0.0.1:4318/v1/traces"
    assert traces_url("https://api.honeycomb.io/") == "https://api.honeycomb.io/v1/traces"
    assert traces_url("http://c:4318/otlp/v1/traces") == "http://c:4318/otlp/v1/traces"


def test_a_refused_connection_is_said_in_two_words() -> None:
    message = (
        "Transient error HTTPConnectionPool(host='127.0.0.1', port=9): Max retries exceeded "
        "with url: /v1/traces (Caused by NewConnectionError(\"HTTPConnection(host='127.0.0.1',"
        ' port=9): Failed to establish a new connection: [Errno 111] Connection refused")) '
        "encountered while exporting spans batch, retrying in 1.00s."
    )
    assert failure_reason(message) == "Connection refused"
    assert failure_reason("Failed to export spans batch code: 401, reason: Unauthorized") == (
        "Failed to export spans batch code: 401, reason: Unauthorized"
    )
