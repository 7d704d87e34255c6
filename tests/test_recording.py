"""Recordings made by the real proxy in front of the demo server, with real SDK clients."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from demo_server.runner import demo_server_thread, running_demo_server
from mcp_tap.cli.app import main
from mcp_tap.cli.proxy import running_proxy
from mcp_tap.protocol.events import Direction, MessageSeen, StreamKind, TapEvent
from mcp_tap.protocol.jsonrpc import progress_params
from mcp_tap.protocol.redaction import RedactionRules
from mcp_tap.recording.reader import load_recording
from mcp_tap.recording.writer import RecordingWriter
from mcp_tap.tap.bus import TapBus
from tests.inproc import Collector
from tests.procs import PY_CLIENT, Proc, tap_proxy

FAST = {"filename": "report.pdf", "size_mb": 4, "step_delay": 0.02}
Connect = Callable[[str], AbstractAsyncContextManager[Client]]
TRANSPORTS: dict[str, tuple[str, Connect, StreamKind]] = {
    # name: (endpoint, client factory, the stream progress must arrive on)
    "2026-07-28": ("/mcp", Client, StreamKind.POST_SSE),
    "handshake": ("/mcp", lambda url: Client(url, mode="legacy"), StreamKind.POST_SSE),
    "2024-11-05-sse": ("/sse", lambda url: Client(sse_client(url)), StreamKind.LEGACY_SSE),
}


async def record_session(
    path: Path,
    endpoint: str,
    connect: Connect,
    rules: RedactionRules,
    arguments: dict[str, Any] = FAST,
) -> tuple[list[TapEvent], list[tuple[float, float | None, str | None]]]:
    """One tool call through an in-process proxy; the events published, the progress seen."""
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    collector = Collector()
    async with running_demo_server(event_store=True) as base:
        bus = TapBus([collector])
        bus.subscribe(RecordingWriter(path, base + endpoint, rules))
        try:
            async with running_proxy(base + endpoint, bus) as proxy:
                async with connect(proxy + endpoint) as client:
                    await client.call_tool(
                        "download_file", arguments, progress_callback=on_progress
                    )
                await asyncio.sleep(0.1)  # the proxy sees the client's streams close
        finally:
            bus.close()
    return collector.events, seen


def progress_of(events: list[TapEvent]) -> list[MessageSeen]:
    return [e for e in events if isinstance(e, MessageSeen) and progress_params(e.message)]


def at_microseconds(event: TapEvent) -> TapEvent:
    return dataclasses.replace(event, time=round(event.time, 6))


@pytest.mark.timeout(20)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_recording_holds_every_event_losslessly(tmp_path: Path, transport: str) -> None:
    endpoint, connect, stream = TRANSPORTS[transport]
    path = tmp_path / "session.yaml"
    published, seen = asyncio.run(
        record_session(path, endpoint, connect, RedactionRules(builtin=False))
    )

    recording = load_recording(path)
    assert recording.warnings == []
    assert recording.header["version"] == 1 and recording.header["target"].endswith(endpoint)
    # lossless: the very events the proxy published, times rounded to microseconds
    assert recording.events == [at_microseconds(e) for e in published]
    assert all(round(e.time, 6) == e.time for e in recording.events)

    progress = progress_of(recording.events)
    params = [progress_params(e.message) or {} for e in progress]
    assert [(p["progress"], p.get("total"), p.get("message")) for p in params] == seen
    assert len(seen) == FAST["size_mb"]
    assert {(e.stream, e.direction) for e in progress} == {(stream, Direction.SERVER_TO_CLIENT)}
    if transport == "handshake":  # the event store numbers SSE events; 2026-07-28 has no ids
        ids = [e.sse_id for e in progress]
        assert None not in ids and len(set(ids)) == len(ids)


@pytest.mark.timeout(20)
def test_secrets_never_reach_the_file(tmp_path: Path) -> None:
    secrets = {
        "authorization": "Bearer tok-3f9a1c",
        "cookie": "sid=cookie-77e2b0",
        "x-api-key": "key-a81d44",
        "x-tenant": "tenant-5c0e19",
    }
    password = "hunter2-9b7e"

    @asynccontextmanager
    async def with_credentials(url: str) -> AsyncIterator[Client]:
        async with httpx2.AsyncClient(headers=secrets, timeout=30) as http:
            async with Client(streamable_http_client(url, http_client=http), mode="legacy") as c:
                yield c

    path = tmp_path / "secret.yaml"
    rules = RedactionRules.from_options(
        headers=["X-Tenant"], fields=["$.params.arguments.password"]
    )
    published, _ = asyncio.run(
        record_session(path, "/mcp", with_credentials, rules, {**FAST, "password": password})
    )

    data = path.read_bytes()
    sessions = {e.session_id for e in published if isinstance(e, MessageSeen) and e.session_id}
    assert sessions, "a handshake-era session has an id"
    for secret in [*secrets.values(), password, *sessions]:
        assert secret.encode() not in data
    for name in secrets:
        assert f"<redacted:{name}>".encode() in data
    assert b"<redacted:params.arguments.password>" in data and b"session-1" in data
    assert os.stat(path).st_mode & 0o777 == 0o600


@pytest.mark.timeout(30)
def test_kill_minus_nine_keeps_everything_the_client_saw(tmp_path: Path) -> None:
    path = tmp_path / "killed.yaml"
    with demo_server_thread(event_store=True) as base:
        with tap_proxy(base + "/mcp", tmp_path, "--record", str(path)) as (url, proxy):
            arguments = {"filename": "big.iso", "size_mb": 50, "step_delay": 0.25}
            client = Proc(
                [
                    sys.executable,
                    str(PY_CLIENT),
                    url,
                    "--transport",
                    "legacy",
                    "--tool",
                    "download_file",
                    "--args",
                    json.dumps(arguments),
                    "--timeout",
                    "20",
                ]
            )
            try:
                client.wait_for_line(r'"progress": 3\.0', timeout=20)
                # Forward first, record second: the writer thread needs about a millisecond
                # after the client got a message. Kill well inside the next step's delay.
                time.sleep(0.1)
                proxy.popen.send_signal(signal.SIGKILL)
                proxy.popen.wait(timeout=5)
            finally:
                client.stop()  # it would only retry a proxy that is gone
                client.finish(timeout=5)  # collect the lines it printed
    assert os.stat(path).st_mode & 0o777 == 0o600
    received = [
        line["progress"] for line in map(json.loads, client.lines) if line["event"] == "progress"
    ]
    recording = load_recording(path)
    recorded = [
        (progress_params(e.message) or {})["progress"] for e in progress_of(recording.events)
    ]
    assert len(received) >= 3
    assert recorded[: len(received)] == received  # nothing the client got is missing


def test_proxy_refuses_to_overwrite_a_recording(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = tmp_path / "taken.yaml"
    existing.write_text("keep me")
    code = main(["proxy", "--target", "http://127.0.0.1:9/mcp", "--record", str(existing)])
    assert code == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert existing.read_text() == "keep me"
