"""`mcp-tap export --format otlp`: OTLP/JSON that the opentelemetry-proto mapping reads."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.json_format import Parse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from mcp_tap.export.otlp import to_otlp
from mcp_tap.export.session import analyze
from mcp_tap.protocol.events import Finding, MessageKind, MessageSeen
from mcp_tap.recording.reader import Recording, load_recording
from tests.export_sample import write_odd_recording
from tests.samples import SAMPLES, sample

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[1]


def parse(data: dict[str, Any]) -> ExportTraceServiceRequest:
    """Through protobuf's JSON mapping, after turning OTLP/JSON's hex ids into its base64."""
    data = json.loads(json.dumps(data))
    for resource in data["resourceSpans"]:
        for scope in resource["scopeSpans"]:
            for span in scope["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64encode(bytes.fromhex(span[key])).decode()
    return Parse(json.dumps(data), ExportTraceServiceRequest())


def attrs(item: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in item.attributes:
        kind = kv.value.WhichOneof("value")
        out[kv.key] = getattr(kv.value, kind)
    return out


def recorded_progress(recording: Recording) -> dict[tuple[str | None, Any], list[Any]]:
    """Progress values by (session, token), then by request: a token may be used again once
    its request has ended, so each run of a token is keyed by the request that opened it."""
    opened: dict[tuple[str | None, Any], Any] = {}
    out: dict[tuple[str | None, Any], list[Any]] = {}
    for event in recording.events:
        if not isinstance(event, MessageSeen):
            continue
        params = (event.message.payload or {}).get("params") or {}
        if event.message.kind is MessageKind.REQUEST:
            token = (params.get("_meta") or {}).get("progressToken")
            if token is not None:
                opened[(event.session_id, token)] = event.message.id
        elif event.message.method == "notifications/progress":
            request_id = opened[(event.session_id, params["progressToken"])]
            out.setdefault((event.session_id, request_id), []).append(params["progress"])
    return out


def spans_progress(
    calls: list[Span], requests: list[MessageSeen]
) -> dict[tuple[str | None, Any], list[Any]]:
    """The progress events of each request's span, keyed as `recorded_progress` keys them."""
    out: dict[tuple[str | None, Any], list[Any]] = {}
    for span, event in zip(calls, requests, strict=True):
        values = [
            attrs(e)["mcp_tap.progress.progress"]
            for e in span.events
            if e.name == "notifications/progress"
        ]
        if values:
            out[(event.session_id, event.message.id)] = values
    return out


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.stem)
def test_every_request_is_one_span_and_progress_its_events(sample: Path) -> None:
    recording = load_recording(sample)
    request = parse(to_otlp(analyze(recording)))
    spans = [s for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]
    calls = [s for s in spans if s.kind == Span.SPAN_KIND_CLIENT]
    requests = [
        e for e in recording.events
        if isinstance(e, MessageSeen) and e.message.kind is MessageKind.REQUEST
    ]  # fmt: skip
    assert len(calls) == len(requests)
    for span, event in zip(calls, requests, strict=True):
        assert len(span.trace_id) == 16 and len(span.span_id) == 8 and len(span.parent_span_id) == 8
        values = attrs(span)
        assert values["mcp.method.name"] == event.message.method
        assert values["jsonrpc.request.id"] == str(event.message.id)
        assert span.end_time_unix_nano >= span.start_time_unix_nano > 1.7e18
        if event.session_id is not None:
            assert values["mcp.session.id"] == event.session_id
        if event.message.method == "tools/call":
            tool = event.message.payload["params"]["name"]
            assert span.name == f"tools/call {tool}" and values["gen_ai.tool.name"] == tool
    # Each request's span holds its own progress, in the order the recording has it; streams
    # of concurrent requests interleave in the recording, never within a span.
    assert spans_progress(calls, requests) == recorded_progress(recording)
    roots = {s.span_id for s in spans if not s.parent_span_id}
    assert all(s.parent_span_id in roots for s in calls)


def test_concurrent_streams_in_one_session_keep_to_their_own_spans() -> None:
    """Two downloads at once in one session: their progress interleaves on the wire, and each
    span gets exactly its own notifications, in order, at the times they were seen."""
    recording = load_recording(sample("concurrent-downloads-handshake"))
    progress = [
        e for e in recording.events
        if isinstance(e, MessageSeen) and e.message.method == "notifications/progress"
    ]  # fmt: skip
    tokens = [p.message.payload["params"]["progressToken"] for p in progress]
    assert tokens != sorted(tokens), "the sample's two streams must interleave"
    request = parse(to_otlp(analyze(recording)))
    spans = [s for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]
    downloads = [s for s in spans if s.name == "tools/call download_file"]
    assert len(downloads) == 2 and len({s.trace_id for s in downloads}) == 1
    for span in downloads:
        token = next(
            r.message.payload["params"]["_meta"]["progressToken"]
            for r in recording.events
            if isinstance(r, MessageSeen)
            and r.message.kind is MessageKind.REQUEST
            and str(r.message.id) == attrs(span)["jsonrpc.request.id"]
        )
        own = [p for p in progress if p.message.payload["params"]["progressToken"] == token]
        events = [e for e in span.events if e.name == "notifications/progress"]
        assert [attrs(e)["mcp_tap.progress.progress"] for e in events] == [
            p.message.payload["params"]["progress"] for p in own
        ]
        offsets = [(e.time_unix_nano - events[0].time_unix_nano) / 1e9 for e in events]
        assert offsets == pytest.approx([p.time - own[0].time for p in own], abs=1e-6)


def test_findings_are_events_with_severity_and_errors_set_status(tmp_path: Path) -> None:
    path = tmp_path / "odd.yaml"
    write_odd_recording(path)
    out = tmp_path / "traces.json"
    done = subprocess.run(
        [sys.executable, "-m", "mcp_tap", "export", str(path), "--format", "otlp", "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    request = parse(json.loads(out.read_text(encoding="utf-8")))
    spans = {s.name: s for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans}
    download = spans["tools/call download_file"]
    findings = [attrs(e) for e in download.events if e.name == "mcp_tap.finding"]
    assert [(f["mcp_tap.finding.rule"], f["mcp_tap.finding.severity"]) for f in findings] == [
        ("progress-not-increasing", "error")
    ]
    assert len([e for e in download.events if e.name == "notifications/progress"]) == 4
    assert len([e for e in spans["tools/call process_data"].events]) == 2
    prompt = spans["prompts/get nope"]
    assert prompt.status.code == Status.STATUS_CODE_ERROR and prompt.status.message == "no prompt"
    assert attrs(prompt)["error.type"] == "-32602"
    assert spans["tools/list"].status.code == Status.STATUS_CODE_ERROR
    root = spans["mcp.session"]
    assert attrs(root)["mcp.session.id"] == "abc123"
    recorded = [e for e in load_recording(path).events if isinstance(e, Finding)]
    every = [e for s in spans.values() for e in s.events if e.name == "mcp_tap.finding"]
    assert len(every) == len(recorded)
    assert any(e.name == "mcp_tap.fault" for e in root.events)


def test_the_same_recording_gives_the_same_ids() -> None:
    sample = SAMPLES[0]
    first = to_otlp(analyze(load_recording(sample)))
    assert first == to_otlp(analyze(load_recording(sample)))
