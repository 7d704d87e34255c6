"""The progress-demo server, driven by real MCP SDK clients over every transport it serves."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.types import TextContent

from demo_server import demo_server_thread, running_demo_server
from demo_server.server import INSTALL_STEPS

pytestmark = pytest.mark.timeout(30)

FAST = 0.01  # per-call step_delay: the server-wide default below is deliberately slow
SERVER_DEFAULT_DELAY = 0.3
ROOT = Path(__file__).resolve().parents[1]

# For raw HTTP requests. 2025-11-25 because priming events and resumption start there.
PROTOCOL = "2025-11-25"
SSE_HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
INIT_PARAMS = {
    "protocolVersion": PROTOCOL,
    "capabilities": {},
    "clientInfo": {"name": "test", "version": "0"},
}


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with demo_server_thread(step_delay=SERVER_DEFAULT_DELAY) as url:
        yield url


# --- helpers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Transport:
    name: str
    connect: Callable[[str], Client]
    protocol: str  # what the client ends up negotiating


TRANSPORTS = [
    Transport("streamable-auto", lambda base: Client(base + "/mcp"), "2026-07-28"),
    Transport("streamable-legacy", lambda base: Client(base + "/mcp", mode="legacy"), "2025-11-25"),
    # The SSE server loop serves both eras, so an "auto" client probes server/discover over
    # the 2024-11-05 transport and gets the 2026 protocol; mode="legacy" keeps the handshake.
    Transport("sse-auto", lambda base: Client(sse_client(base + "/sse")), "2026-07-28"),
    Transport(
        "sse-legacy", lambda base: Client(sse_client(base + "/sse"), mode="legacy"), "2025-11-25"
    ),
]


@pytest.fixture(params=TRANSPORTS, ids=lambda t: t.name)
def transport(request: pytest.FixtureRequest) -> Transport:
    return request.param  # type: ignore[no-any-return]


Progress = tuple[float, float | None, str | None]


@dataclass
class Call:
    text: str
    progress: list[Progress]


def call_tool(base: str, transport: Transport, tool: str, args: dict[str, Any]) -> Call:
    """Connect, call one tool with a progress callback, and return its text and progress."""

    async def run() -> Call:
        updates: list[Progress] = []

        # Parameter names matter: the SDK's ProgressFnT is a Protocol.
        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            updates.append((progress, total, message))

        with anyio.fail_after(10):
            async with transport.connect(base) as client:
                assert client.session.protocol_version == transport.protocol
                result = await client.call_tool(tool, args, progress_callback=on_progress)
        assert not result.is_error
        [content] = result.content
        assert isinstance(content, TextContent)
        return Call(content.text, updates)

    return asyncio.run(run())


def assert_strictly_increasing(progress: list[Progress]) -> None:
    values = [value for value, _, _ in progress]
    assert values == sorted(set(values)), values


# --- the tools, over every transport ------------------------------------------------------


def test_download_file(base_url: str, transport: Transport) -> None:
    args = {"filename": "report.pdf", "size_mb": 4, "step_delay": FAST}
    call = call_tool(base_url, transport, "download_file", args)
    assert call.text == "Downloaded report.pdf (4 MB)"
    assert call.progress == [(mb, 4, f"report.pdf: {mb}/4 MB") for mb in range(1, 5)]
    assert_strictly_increasing(call.progress)


def test_process_data_has_no_total(base_url: str, transport: Transport) -> None:
    call = call_tool(base_url, transport, "process_data", {"records": 35, "step_delay": FAST})
    assert call.text == "Processed 35 records"
    assert [value for value, _, _ in call.progress] == [10, 20, 30, 35]
    assert all(total is None and message for _, total, message in call.progress)
    assert_strictly_increasing(call.progress)


def test_install_package_reports_named_steps(base_url: str, transport: Transport) -> None:
    call = call_tool(base_url, transport, "install_package", {"name": "rich", "step_delay": FAST})
    assert call.text == "Installed rich"
    assert [message for _, _, message in call.progress] == list(INSTALL_STEPS)
    assert all(total is None for _, total, _ in call.progress)
    assert_strictly_increasing(call.progress)


def test_stream_progress(base_url: str, transport: Transport) -> None:
    call = call_tool(base_url, transport, "stream_progress", {"count": 50})
    assert call.text == "Sent 50 progress notifications"
    assert call.progress == [(n, 50, None) for n in range(1, 51)]


def test_echo_is_exact_and_silent(base_url: str, transport: Transport) -> None:
    text = '  héllo\n\t{"json": [1, 2]} \u2603  '
    call = call_tool(base_url, transport, "echo", {"text": text})
    assert call.text == text
    assert call.progress == []


# --- server behaviour ---------------------------------------------------------------------


def test_per_call_step_delay_overrides_server_default(base_url: str) -> None:
    started = time.monotonic()
    call = call_tool(base_url, TRANSPORTS[0], "download_file", {"filename": "f", "size_mb": 3})
    slow = time.monotonic() - started
    started = time.monotonic()
    args = {"filename": "f", "size_mb": 3, "step_delay": FAST}
    call_tool(base_url, TRANSPORTS[0], "download_file", args)
    fast = time.monotonic() - started
    assert len(call.progress) == 3
    assert slow >= 3 * SERVER_DEFAULT_DELAY
    assert fast < 3 * SERVER_DEFAULT_DELAY


def test_host_check_accepts_loopback_on_any_port(base_url: str) -> None:
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": INIT_PARAMS}

    def status(host: str) -> int:
        headers = {**SSE_HEADERS, "host": host}
        return httpx2.post(base_url + "/mcp", json=init, headers=headers).status_code

    assert status("127.0.0.1:1") == 200
    assert status("localhost:65000") == 200
    assert status("evil.example:80") == 421


# --- event store: SSE ids and Last-Event-ID resumption ------------------------------------


def sse_events(body: str) -> list[dict[str, str]]:
    """Split an SSE body into events ({field: value}); enough for what this server sends."""
    events = []
    for block in re.split(r"\r?\n\r?\n", body.strip()):
        event = {}
        for line in block.splitlines():
            name, _, value = line.partition(":")
            event[name] = value.removeprefix(" ")
        events.append(event)
    return events


async def open_session(http: httpx2.AsyncClient) -> dict[str, str]:
    """Initialize a 2025-11-25 session by hand; return the headers for its next requests."""
    init = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": INIT_PARAMS}
    response = await http.post("/mcp", json=init, headers=SSE_HEADERS)
    response.raise_for_status()
    session_id = response.headers["mcp-session-id"]
    headers = {**SSE_HEADERS, "mcp-session-id": session_id, "mcp-protocol-version": PROTOCOL}
    await http.post(
        "/mcp", json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers
    )
    return headers


DOWNLOAD = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "tools/call",
    "params": {
        "name": "download_file",
        "arguments": {"filename": "a.bin", "size_mb": 3, "step_delay": FAST},
        "_meta": {"progressToken": "p1"},
    },
}


def run_with_server(
    event_store: bool, body: Callable[[httpx2.AsyncClient], Awaitable[None]]
) -> None:
    """Start a server in this loop (the async runner) and hand `body` an HTTP client for it."""

    async def main() -> None:
        with anyio.fail_after(15):
            async with running_demo_server(step_delay=FAST, event_store=event_store) as base:
                async with httpx2.AsyncClient(base_url=base, timeout=5) as http:
                    await body(http)

    asyncio.run(main())


def test_event_store_adds_ids_and_replays_after_last_event_id() -> None:
    async def body(http: httpx2.AsyncClient) -> None:
        headers = await open_session(http)
        response = await http.post("/mcp", json=DOWNLOAD, headers=headers)
        events = sse_events(response.text)
        ids = [int(event["id"]) for event in events]
        assert ids == sorted(set(ids))
        # A priming event (empty data), three progress notifications, the result.
        priming, *messages = events
        assert priming["data"] == "" and len(messages) == 4
        assert '"id":1,"result"' in messages[-1]["data"]

        # Resume after the first progress notification: the rest is replayed verbatim.
        resumed: list[dict[str, str]] = []
        resume_headers = {**headers, "last-event-id": messages[0]["id"]}
        async with http.stream("GET", "/mcp", headers=resume_headers) as stream:
            assert stream.status_code == 200
            block: list[str] = []
            async for line in stream.aiter_lines():
                if line:
                    block.append(line)
                    continue
                resumed.extend(sse_events("\n".join(block)))
                block = []
                # The resumed stream stays open for live events; stop at the result.
                if '"result"' in resumed[-1].get("data", ""):
                    break
        assert resumed == messages[1:]

    run_with_server(event_store=True, body=body)


def test_no_event_ids_without_event_store() -> None:
    async def body(http: httpx2.AsyncClient) -> None:
        headers = await open_session(http)
        response = await http.post("/mcp", json=DOWNLOAD, headers=headers)
        events = sse_events(response.text)
        assert len(events) == 4
        assert not any("id" in event for event in events)

    run_with_server(event_store=False, body=body)


# --- python -m demo_server ----------------------------------------------------------------


def test_cli_serves_until_ctrl_c() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "demo_server", "--port", "0", "--step-delay", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+)/mcp\b.*\1/sse\b", line)
        assert match, line
        call = call_tool(match.group(1), TRANSPORTS[0], "echo", {"text": "hi"})
        assert call.text == "hi"
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
