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
from mcp_tap.recording.reader import load_recording
from tests.export_sample import write_odd_recording

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = sorted((ROOT / "recordings").glob("*.yaml"))


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
    progress = [
        e for e in recording.events
        if isinstance(e, MessageSeen) and e.message.method == "notifications/progress"
    ]  # fmt: skip
    events = [e for s in calls for e in s.events if e.name == "notifications/progress"]
    assert len(events) == len(progress) > 0
    assert [attrs(e)["mcp_tap.progress.progress"] for e in events] == [
        p.message.payload["params"]["progress"] for p in progress
    ]
    roots = {s.span_id for s in spans if not s.parent_span_id}
    assert all(s.parent_span_id in roots for s in calls)


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
