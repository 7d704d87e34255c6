"""`mcp-tap proxy --otlp-endpoint`: a real session's spans reach an OTLP/HTTP receiver live.

The receiver is a small HTTP server in the test, on loopback, that parses each POST to
/v1/traces with opentelemetry-proto, as a collector would.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from mcp_tap.export.otlp import span_name
from mcp_tap.export.session import analyze
from mcp_tap.recording.reader import load_recording
from tests.procs import Proc, demo_server, tap_proxy

DOWNLOAD = {"filename": "report.pdf", "size_mb": 4, "step_delay": 0.02}


class Receiver:
    """What an OTLP/HTTP collector got: every export request, parsed."""

    def __init__(self) -> None:
        self.requests: list[ExportTraceServiceRequest] = []
        self.paths: list[str] = []
        self.lock = threading.Lock()

    def spans(self) -> list[tuple[dict[str, Any], Span]]:
        """Every span received, with its resource's attributes."""
        with self.lock:
            return [
                (attributes(rs.resource.attributes), span)
                for request in self.requests
                for rs in request.resource_spans
                for ss in rs.scope_spans
                for span in ss.spans
            ]


def value(v: AnyValue) -> Any:
    return getattr(v, v.WhichOneof("value") or "string_value")


def attributes(items: Any) -> dict[str, Any]:
    return {kv.key: value(kv.value) for kv in items if isinstance(kv, KeyValue)}


@contextmanager
def otlp_receiver() -> Iterator[tuple[str, Receiver]]:
    """An OTLP/HTTP (protobuf) trace receiver on a free loopback port; yields its base URL."""
    received = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            with received.lock:
                received.requests.append(request)
                received.paths.append(self.path)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def session(url: str) -> list[float]:
    """A handshake session: list the tools, download a file; the progress seen."""
    seen: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)

    async with Client(url, mode="legacy") as client:
        await client.list_tools()
        result = await client.call_tool("download_file", DOWNLOAD, progress_callback=on_progress)
        assert not result.is_error
    return seen


def stop(proc: Proc) -> tuple[int, float]:
    """Ctrl-C the proxy; its exit code and how long it took to exit."""
    started = time.monotonic()
    proc.popen.send_signal(signal.SIGINT)
    code = proc.finish(timeout=20)
    return code, time.monotonic() - started


@pytest.mark.timeout(60)
def test_every_request_of_a_real_session_reaches_the_collector(tmp_path: Path) -> None:
    recording = tmp_path / "session.yaml"
    with demo_server() as base, otlp_receiver() as (collector, received):
        flags = ("--record", str(recording), "--otlp-endpoint", collector)
        with tap_proxy(base + "/mcp", tmp_path, *flags) as (url, proc):
            seen = asyncio.run(session(url))
            code, _ = stop(proc)
        spans = received.spans()

    assert code == 0, proc.stderr
    assert "warning" not in proc.stderr and "Traceback" not in proc.stderr
    assert set(received.paths) == {"/v1/traces"}
    assert seen == [1, 2, 3, 4]

    # one span per request the recording holds, named as the file export names them
    calls = analyze(load_recording(recording)).calls
    requests = [s for _, s in spans if s.name != "mcp.session"]
    expected = Counter(span_name(c.method, c.target) for c in calls)
    assert Counter(s.name for s in requests) == expected
    assert {"initialize", "tools/list", "tools/call download_file"} <= {s.name for s in requests}
    assert all(resource["service.name"] == "mcp-tap" for resource, _ in spans)

    (call,) = [s for s in requests if s.name == "tools/call download_file"]
    attrs = attributes(call.attributes)
    assert attrs["mcp.method.name"] == "tools/call"
    assert attrs["gen_ai.tool.name"] == "download_file"
    assert attrs["mcp_tap.outcome"] == "completed"
    assert call.kind == Span.SPAN_KIND_CLIENT
    assert call.start_time_unix_nano < call.end_time_unix_nano
    progress = [e for e in call.events if e.name == "notifications/progress"]
    assert [attributes(e.attributes)["mcp_tap.progress.progress"] for e in progress] == seen
    assert all(
        call.start_time_unix_nano <= e.time_unix_nano <= call.end_time_unix_nano for e in progress
    )

    # the session: an attribute of every request after initialize, and a root span per trace
    session_id = attrs["mcp.session.id"]
    assert session_id
    in_session = [s for s in requests if s.name != "initialize"]
    assert {attributes(s.attributes)["mcp.session.id"] for s in in_session} == {session_id}
    roots = {s.span_id: s for _, s in spans if s.name == "mcp.session"}
    (root,) = [r for r in roots.values() if attributes(r.attributes).get("mcp.session.id")]
    assert attributes(root.attributes)["mcp.session.id"] == session_id
    assert {(s.trace_id, s.parent_span_id) for s in in_session} == {(root.trace_id, root.span_id)}
    assert all(s.parent_span_id in roots for s in requests)  # no span without its parent


@pytest.mark.timeout(60)
def test_a_collector_that_is_down_costs_one_warning_line_and_nothing_else(
    tmp_path: Path,
) -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}"
    # Export every 50 ms, so batches fail while the session runs, and at exit again.
    env = {"OTEL_BSP_SCHEDULE_DELAY": "50"}
    with demo_server() as base:
        flags = ("--no-record", "--otlp-endpoint", endpoint)
        with tap_proxy(base + "/mcp", tmp_path, *flags, env=env) as (url, proc):
            seen = asyncio.run(session(url))
            asyncio.run(session(url))  # a second session after the first failures
            code, took = stop(proc)

    assert seen == [1, 2, 3, 4]  # forwarded, progress and all
    assert code == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if "warning" in line.lower()]
    assert len(warnings) == 1, proc.stderr
    assert "cannot send traces to" in warnings[0] and endpoint in warnings[0]
    assert took < 4.0  # not the 5 s --otlp-timeout: a refused connection is not waited on
