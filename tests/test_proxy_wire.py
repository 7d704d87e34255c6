"""The proxy on the wire: byte-exactness, headers, resumption, GET/DELETE, failures, disconnects.

The proxy runs in the test process (so its tap events can be inspected) on a real loopback
socket; upstreams are the demo server in its own process or small hand-written apps.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client

from mcp_tap.http.serving import bind_socket
from mcp_tap.protocol.events import (
    Direction,
    ExchangeClosed,
    ExchangeOpened,
    Fault,
    MessageKind,
    MessageSeen,
    ResponseStarted,
    StreamKind,
)
from tests.inproc import Collector, assert_error_answer, through_proxy
from tests.procs import demo_server
from tests.upstreams import AbsoluteEndpointApp, EchoApp, SlowStreamApp, serve_in_thread

pytestmark = pytest.mark.timeout(60)

ACCEPT_BOTH = "application/json, text/event-stream"
HANDSHAKE = {"content-type": "application/json", "accept": ACCEPT_BOTH}
VOLATILE = {"date", "server", "mcp-session-id", "connection", "transfer-encoding", "keep-alive"}


def initialize(version: str = "2025-11-25") -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": version,
            "capabilities": {},
            "clientInfo": {"name": "wire-test", "version": "1"},
        },
    }


async def handshake(client: httpx2.AsyncClient, url: str) -> dict[str, str]:
    """Initialize a handshake-era session; return the headers later requests need."""
    response = await client.post(url, json=initialize(), headers=HANDSHAKE)
    assert response.status_code == 200
    session = {
        **HANDSHAKE,
        "mcp-session-id": response.headers["mcp-session-id"],
        "mcp-protocol-version": "2025-11-25",
    }
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert (await client.post(url, json=note, headers=session)).status_code == 202
    return session


def test_response_bytes_are_identical_through_the_proxy() -> None:
    with demo_server() as base:

        async def body(proxy: str, _: Collector) -> None:
            async with httpx2.AsyncClient() as client:
                direct = await client.post(base + "/mcp", json=initialize(), headers=HANDSHAKE)
                proxied = await client.post(proxy + "/mcp", json=initialize(), headers=HANDSHAKE)
            assert proxied.status_code == direct.status_code == 200
            assert proxied.content == direct.content
            assert [(k, v) for k, v in proxied.headers.items() if k not in VOLATILE] == [
                (k, v) for k, v in direct.headers.items() if k not in VOLATILE
            ]

        through_proxy(base + "/mcp", body)


def test_headers_pass_through_both_ways_and_host_names_the_upstream() -> None:
    echo = EchoApp()
    with serve_in_thread(echo) as upstream:
        sent = {
            "authorization": "Bearer s3cret",
            "mcp-session-id": "abc",
            "mcp-protocol-version": "2026-07-28",
            "mcp-method": "tools/call",
            "mcp-name": "=?base64?ZG93bmxvYWQ=?=",
            "mcp-param-region": "eu",
            "last-event-id": "7",
            "origin": "http://localhost:1234",
            "connection": "keep-alive, x-hop",
            "x-hop": "dropped",
        }

        async def body(proxy: str, _: Collector) -> None:
            async with httpx2.AsyncClient() as client:
                response = await client.post(
                    proxy + "/unauthorized?x=1&y=%20", content=b'{"a":1}', headers=sent
                )
            assert response.status_code == 401
            assert response.headers["www-authenticate"].startswith("Bearer resource_metadata=")
            assert response.headers["mcp-session-id"] == "echo-session"
            assert response.headers["x-custom"] == "kept"
            seen = response.json()
            headers = dict(seen["headers"])
            for name in sent.keys() - {"connection", "x-hop"}:
                assert headers[name] == sent[name], name
            assert "x-hop" not in headers
            assert headers["host"] == upstream.removeprefix("http://")
            assert seen["query"] == "x=1&y=%20"
            assert seen["body"] == '{"a":1}'

        through_proxy(upstream + "/mcp", body)


def test_resumed_stream_is_seen_as_the_same_requests_stream() -> None:
    call = {
        "jsonrpc": "2.0",
        "id": 5,
        "method": "tools/call",
        "params": {
            "name": "download_file",
            "arguments": {"filename": "a.bin", "size_mb": 6, "step_delay": 0.1},
            "_meta": {"progressToken": "tok-5"},
        },
    }
    with demo_server(event_store=True) as base:

        async def body(proxy: str, collector: Collector) -> None:
            url = proxy + "/mcp"
            async with httpx2.AsyncClient(timeout=10) as client:
                session = await handshake(client, url)
                last_id = None
                async with client.stream("POST", url, json=call, headers=session) as response:
                    assert response.headers["content-type"].startswith("text/event-stream")
                    async for line in response.aiter_lines():
                        if line.startswith("id:"):
                            last_id = line[3:].strip()
                        if line.startswith("data:") and '"progress":2' in line:
                            break  # drop the connection after the second update
                resumed_headers = {
                    **session,
                    "accept": "text/event-stream",
                    "last-event-id": last_id,
                }
                replayed = []
                async with client.stream("GET", url, headers=resumed_headers) as resumed:
                    assert resumed.status_code == 200
                    async for line in resumed.aiter_lines():
                        replayed.append(line)
                        if line.startswith("data:") and '"result"' in line:
                            break  # the server keeps the resumed stream open after the result
                text = "\n".join(replayed)
                assert '"id":5' in text and '"progress":6' in text

        collector = through_proxy(base + "/mcp", body)

    progress = [m for m in collector.messages() if m.message.method == "notifications/progress"]
    tokens = {m.message.payload["params"]["progressToken"] for m in progress}
    assert tokens == {"tok-5"}
    values = [m.message.payload["params"]["progress"] for m in progress]
    assert values == sorted(values) and values[-1] == 6
    streams = {m.stream for m in progress}
    assert streams == {StreamKind.POST_SSE, StreamKind.GET_SSE}
    assert all(m.sse_id for m in progress)
    (response,) = [
        m
        for m in collector.messages()
        if m.message.kind is MessageKind.RESPONSE and m.message.id == 5
    ]
    assert response.stream is StreamKind.GET_SSE
    session_ids = {m.session_id for m in progress} | {response.session_id}
    assert len(session_ids) == 1 and None not in session_ids


def test_standalone_get_stream_and_delete_work_through_the_proxy() -> None:
    with demo_server() as base:

        async def body(proxy: str, collector: Collector) -> None:
            url = proxy + "/mcp"
            async with httpx2.AsyncClient(timeout=10) as client:
                session = await handshake(client, url)
                get_headers = {**session, "accept": "text/event-stream"}
                async with client.stream("GET", url, headers=get_headers) as stream:
                    assert stream.status_code == 200
                    assert stream.headers["content-type"].startswith("text/event-stream")
                deleted = await client.delete(url, headers=session)
                assert deleted.status_code == 200
                gone = await client.post(url, json=initialize(), headers=session)
                assert gone.status_code == 404  # the session really ended upstream

        collector = through_proxy(base + "/mcp", body)
    started = [e for e in collector.events if isinstance(e, ResponseStarted)]
    assert StreamKind.GET_SSE in {e.stream for e in started}


def test_unreachable_upstream_gives_502_with_the_requests_id() -> None:
    sock = bind_socket("127.0.0.1", 0)  # a port that is bound but never accepts: refused
    port = sock.getsockname()[1]
    sock.close()
    target = f"http://127.0.0.1:{port}/mcp"

    async def body(proxy: str, _: Collector) -> None:
        request = {"jsonrpc": "2.0", "id": "req-7", "method": "tools/list"}
        async with httpx2.AsyncClient() as client:
            response = await client.post(proxy + "/mcp", json=request, headers=HANDSHAKE)
        assert_error_answer(response, 502, "req-7", target)
        assert response.json()["error"]["code"] == -32000

    collector = through_proxy(target, body)
    (fault,) = [e for e in collector.events if isinstance(e, Fault)]
    assert fault.kind == "upstream-unreachable" and target in fault.detail
    errors = [m for m in collector.messages() if m.direction is Direction.SERVER_TO_CLIENT]
    assert errors[0].message.kind is MessageKind.ERROR


def test_client_disconnect_closes_the_upstream_at_once() -> None:
    slow = SlowStreamApp()
    with serve_in_thread(slow) as upstream:

        async def body(proxy: str, _: Collector) -> None:
            async with httpx2.AsyncClient(timeout=10) as client:
                async with client.stream("POST", proxy + "/mcp", content=b"{}") as response:
                    async for line in response.aiter_lines():
                        if line.startswith("data:"):
                            break
                left_at = time.monotonic()
            deadline = time.monotonic() + 3
            while slow.disconnected_at is None and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            assert slow.disconnected_at is not None, "upstream never saw the client leave"
            assert slow.disconnected_at - left_at < 1.0
            assert slow.events_sent < 50

        collector = through_proxy(upstream + "/mcp", body)
    closed = [e for e in collector.events if isinstance(e, ExchangeClosed)]
    assert [e.reason for e in closed] == ["client-disconnected"]


def test_absolute_legacy_endpoint_is_rewritten_to_the_proxy() -> None:
    with serve_in_thread(AbsoluteEndpointApp()) as upstream:

        async def body(proxy: str, collector: Collector) -> None:
            async with httpx2.AsyncClient(timeout=10) as client:
                response = await client.get(proxy + "/sse", headers={"accept": "text/event-stream"})
            proxy_host = proxy.removeprefix("http://")
            assert (
                response.content
                == (
                    f"event: endpoint\r\ndata: http://{proxy_host}/messages/?session_id=abc123"
                    "\r\n\r\n: ping\r\n\r\n"
                ).encode()
            )

        collector = through_proxy(upstream + "/sse", body)
    (endpoint,) = collector.messages()
    assert endpoint.message.kind is MessageKind.ENDPOINT
    assert endpoint.stream is StreamKind.LEGACY_SSE
    assert endpoint.session_id == "abc123"


def test_invalid_json_is_forwarded_untouched_and_flagged() -> None:
    echo = EchoApp()
    with serve_in_thread(echo) as upstream:

        async def body(proxy: str, _: Collector) -> None:
            async with httpx2.AsyncClient() as client:
                response = await client.post(proxy + "/mcp", content=b"{not json")
            assert response.status_code == 200
            assert json.loads(response.content)["body"] == "{not json"

        collector = through_proxy(upstream + "/mcp", body)
    sent = [m for m in collector.messages() if m.direction is Direction.CLIENT_TO_SERVER]
    assert sent[0].message.kind is MessageKind.INVALID
    assert sent[0].message.raw == "{not json"


@pytest.mark.parametrize("transport", ["auto", "legacy", "sse"])
def test_each_exchange_is_told_in_order_opened_request_head_response_closed(
    transport: str,
) -> None:
    """The tap hears of a response head after it has left, but still before its messages."""
    with demo_server() as base:

        async def body(proxy: str, _: Collector) -> None:
            target: Any = proxy + "/mcp"
            if transport == "sse":
                target = sse_client(proxy + "/sse")
            async with Client(target, mode="auto" if transport == "auto" else "legacy") as client:
                await client.list_tools()
                updates: list[float] = []

                async def on_progress(progress: float, total: float | None, _: str | None) -> None:
                    updates.append(progress)

                arguments = {"filename": "a.bin", "size_mb": 3, "step_delay": 0.01}
                await client.call_tool("download_file", arguments, progress_callback=on_progress)
                assert updates == [1, 2, 3]

        collector = through_proxy(base + "/mcp", body)

    stages: dict[int, list[str]] = {}
    for event in collector.events:
        if isinstance(event, ExchangeOpened):
            stages[event.exchange_id] = ["opened"]
        elif isinstance(event, MessageSeen) and event.direction is Direction.CLIENT_TO_SERVER:
            stages[event.exchange_id].append("request")
        elif isinstance(event, ResponseStarted):
            stages[event.exchange_id].append("head")
        elif isinstance(event, MessageSeen):
            stages[event.exchange_id].append("response")
        elif isinstance(event, ExchangeClosed):
            stages[event.exchange_id].append("closed")
    order = ["opened", "request", "head", "response", "closed"]
    for exchange_id, seen in stages.items():
        ranks = [order.index(stage) for stage in seen]
        assert ranks == sorted(ranks), f"exchange {exchange_id}: {seen}"
        assert seen.count("head") == 1 and seen[-1] == "closed", f"exchange {exchange_id}: {seen}"
    # the tools/list result, three progress notifications and the tool's result, at least
    assert sum(seen.count("response") for seen in stages.values()) >= 5
