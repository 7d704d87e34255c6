"""The fault suite: misbehaving upstreams on loopback, and what client and recording get.

Each case checks what a transparent proxy should give the client, that the fault is on the
tap (so the recording keeps it), and that the proxy goes on serving the next request.
The README's fault table is checked against FAULT_TABLE below.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx2
import pytest

from mcp_tap.http.limits import Limits
from mcp_tap.protocol.events import Direction, MessageKind
from tests.inproc import Collector, assert_error_answer, through_proxy
from tests.upstreams import EchoApp, FaultApp, SlowStreamApp, resetting_upstream, serve_in_thread

pytestmark = pytest.mark.timeout(60)

IDLE_TIMEOUT = 0.5  # the proxy's upstream idle timeout in these tests (default: 330 s)
README = Path(__file__).resolve().parent.parent / "README.md"

# (fault, what the client gets, what the recording holds) - the README shows this table.
FAULT_TABLE = [
    ("Connection refused", "502, JSON-RPC error naming the target", "fault upstream-unreachable"),
    (
        "Connection closed, or malformed HTTP, before a response",
        "502, JSON-RPC error naming the target",
        "fault upstream-reset",
    ),
    (
        "Reset mid-stream",
        "the events sent so far, then a broken connection",
        "the events, fault upstream-reset",
    ),
    (
        "No response headers within `--idle-timeout` (330 s)",
        "504, JSON-RPC error naming the target",
        "fault upstream-timeout",
    ),
    (
        "Stream silent for `--idle-timeout` (330 s)",
        "the events sent so far, then a broken connection",
        "the events, fault upstream-stalled",
    ),
    ("10 MB JSON response", "the same bytes", "the whole message"),
    ("Invalid JSON", "the same bytes", "an invalid message with its raw text"),
    ("Broken SSE framing", "the same bytes", "what decodes, nothing invented"),
    ("500, 404, 405", "the same status and body", "the status and the error message"),
    (
        "Client disconnects mid-stream",
        "-",
        "exchange closed: client-disconnected; upstream closed within 1 s",
    ),
    (
        "Request body over `--max-body` (16 MiB)",
        "413, JSON-RPC error",
        "fault request-too-large",
    ),
    (
        "Foreign Host or Origin, or an Origin that is not a URL",
        "403, JSON-RPC error saying why",
        "fault request-refused",
    ),
]


async def still_serves(client: httpx2.AsyncClient, proxy: str) -> None:
    response = await client.post(proxy + "/status/200", content=b"{}")
    assert response.status_code == 200


def fault_kinds(collector: Collector) -> list[str]:
    return [f.kind for f in collector.faults()]


def test_readme_fault_table_matches_the_suite() -> None:
    text = README.read_text()
    rows = re.findall(r"^\| (.+?) \| (.+?) \| (.+?) \|$", text, re.MULTILINE)
    table = [tuple(cell.strip() for cell in row) for row in rows]
    for row in FAULT_TABLE:
        assert row in table, f"README fault table lacks {row}"


def test_reset_mid_stream_breaks_the_client_too_and_is_recorded() -> None:
    with resetting_upstream() as upstream:

        async def body(proxy: str, _: Collector) -> None:
            received = []
            async with httpx2.AsyncClient(timeout=10) as client:
                with pytest.raises(httpx2.RemoteProtocolError):
                    async with client.stream("POST", proxy + "/mcp", content=b"{}") as response:
                        async for line in response.aiter_lines():
                            received.append(line)
            assert any(line.startswith("data:") for line in received)

        collector = through_proxy(upstream + "/mcp", body)
    assert fault_kinds(collector) == ["upstream-reset"]
    received = [m for m in collector.messages() if m.direction is Direction.SERVER_TO_CLIENT]
    assert [m.message.method for m in received] == ["notifications/message"]


def test_stall_before_headers_gives_504_and_the_proxy_goes_on() -> None:
    with serve_in_thread(FaultApp()) as upstream:

        async def body(proxy: str, _: Collector) -> None:
            request = {"jsonrpc": "2.0", "id": 9, "method": "tools/list"}
            async with httpx2.AsyncClient(timeout=10) as client:
                response = await client.post(proxy + "/stall-headers", json=request)
                assert_error_answer(response, 504, 9, upstream)
                await still_serves(client, proxy)

        collector = through_proxy(upstream + "/mcp", body, limits=Limits(idle_timeout=IDLE_TIMEOUT))
    assert fault_kinds(collector) == ["upstream-timeout"]


def test_silent_stream_is_cut_after_the_idle_timeout() -> None:
    with serve_in_thread(FaultApp()) as upstream:

        async def body(proxy: str, _: Collector) -> None:
            async with httpx2.AsyncClient(timeout=10) as client:
                with pytest.raises(httpx2.RemoteProtocolError):
                    async with client.stream("POST", proxy + "/stall-stream") as response:
                        async for _line in response.aiter_lines():
                            pass
                await still_serves(client, proxy)

        collector = through_proxy(upstream + "/mcp", body, limits=Limits(idle_timeout=IDLE_TIMEOUT))
    assert fault_kinds(collector) == ["upstream-stalled"]
    assert collector.messages()[0].message.method == "notifications/message"


def test_ten_megabyte_json_response_arrives_whole() -> None:
    with serve_in_thread(FaultApp()) as upstream:

        async def body(proxy: str, _: Collector) -> None:
            async with httpx2.AsyncClient(timeout=30) as client:
                direct = await client.post(upstream + "/big")
                proxied = await client.post(proxy + "/big")
            assert len(proxied.content) > FaultApp.BIG_TEXT_BYTES
            assert proxied.content == direct.content

        collector = through_proxy(upstream + "/mcp", body)
    (message,) = [m for m in collector.messages() if m.direction is Direction.SERVER_TO_CLIENT]
    assert message.message.kind is MessageKind.RESPONSE
    assert len(message.message.payload["result"]["text"]) == FaultApp.BIG_TEXT_BYTES


def test_invalid_json_response_is_forwarded_and_flagged() -> None:
    with serve_in_thread(FaultApp()) as upstream:

        async def body(proxy: str, _: Collector) -> None:
            async with httpx2.AsyncClient() as client:
                response = await client.post(proxy + "/invalid-json")
            assert response.content == b'{"jsonrpc": "2.0", "id": 1, oops'

        collector = through_proxy(upstream + "/mcp", body)
    (message,) = collector.messages()
    assert message.message.kind is MessageKind.INVALID
    assert message.message.raw == '{"jsonrpc": "2.0", "id": 1, oops'


def test_broken_sse_framing_is_forwarded_byte_for_byte() -> None:
    with serve_in_thread(FaultApp()) as upstream:

        async def body(proxy: str, _: Collector) -> None:
            async with httpx2.AsyncClient() as client:
                direct = await client.post(upstream + "/broken-sse")
                proxied = await client.post(proxy + "/broken-sse")
                assert proxied.content == direct.content
                await still_serves(client, proxy)

        collector = through_proxy(upstream + "/mcp", body)
    first_exchange = [m for m in collector.messages() if m.exchange_id == 1]
    kinds = [m.message.kind for m in first_exchange]
    assert kinds == [MessageKind.INVALID, MessageKind.INVALID]  # "{half" and "{}"


@pytest.mark.parametrize("status", [500, 404, 405])
def test_error_statuses_pass_through(status: int) -> None:
    with serve_in_thread(FaultApp()) as upstream:

        async def body(proxy: str, _: Collector) -> None:
            async with httpx2.AsyncClient() as client:
                response = await client.post(proxy + f"/status/{status}", content=b"{}")
            assert response.status_code == status
            assert response.json()["error"]["message"] == f"/status/{status}"

        collector = through_proxy(upstream + "/mcp", body)
    (message,) = [m for m in collector.messages() if m.direction is Direction.SERVER_TO_CLIENT]
    assert message.message.kind is MessageKind.ERROR


def test_client_disconnect_leaves_no_task_behind() -> None:
    slow = SlowStreamApp()
    with serve_in_thread(slow) as upstream:

        async def body(proxy: str, _: Collector) -> None:
            baseline = len(asyncio.all_tasks())
            async with httpx2.AsyncClient(timeout=10) as client:
                for _ in range(3):
                    async with client.stream("POST", proxy + "/mcp", content=b"{}") as response:
                        async for line in response.aiter_lines():
                            if line.startswith("data:"):
                                break
            for _ in range(100):
                if len(asyncio.all_tasks()) <= baseline:
                    break
                await asyncio.sleep(0.01)
            assert len(asyncio.all_tasks()) <= baseline

        collector = through_proxy(upstream + "/mcp", body)
    closed = [e for e in collector.events if type(e).__name__ == "ExchangeClosed"]
    assert [e.reason for e in closed] == ["client-disconnected"] * 3


def test_request_body_over_the_limit_gets_413() -> None:
    with serve_in_thread(FaultApp()) as upstream:

        async def body(proxy: str, _: Collector) -> None:
            async with httpx2.AsyncClient() as client:
                response = await client.post(proxy + "/status/200", content=b"x" * 2048)
                assert response.status_code == 413
                assert "max-body" in response.json()["error"]["message"]
                await still_serves(client, proxy)

        collector = through_proxy(upstream + "/mcp", body, limits=Limits(max_body=1024))
    assert fault_kinds(collector) == ["request-too-large"]


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({"host": "evil.example"}, "Host 'evil.example'"),
        ({"origin": "http://evil.example"}, "foreign web origin"),
    ],
)
def test_foreign_host_or_origin_gets_403(headers: dict[str, str], why: str) -> None:
    echo = EchoApp()
    with serve_in_thread(echo) as upstream:

        async def body(proxy: str, _: Collector) -> None:
            request = {"jsonrpc": "2.0", "id": "r1", "method": "tools/list"}
            async with httpx2.AsyncClient() as client:
                response = await client.post(proxy + "/status/200", json=request, headers=headers)
                assert response.status_code == 403
                error = response.json()
                assert error["id"] == "r1" and why in error["error"]["message"]
                allowed = await client.post(
                    proxy + "/status/200",
                    content=b"{}",
                    headers={"origin": "http://localhost:3000"},
                )
                assert allowed.status_code == 200

        collector = through_proxy(upstream + "/mcp", body)
    assert fault_kinds(collector) == ["request-refused"]
    assert len(echo.requests) == 1  # the refused request never reached the upstream
