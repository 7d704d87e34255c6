"""The proxy's own HTTP/1.1 client against upstreams that speak the less common parts of HTTP.

Each upstream is a raw TCP server on 127.0.0.1 (tests/upstreams.py ScriptedUpstream), so the
bytes on the wire are exactly the ones written here; the client is httpx2 through the proxy.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading

import httpx2
import pytest

from mcp_tap.http.limits import Limits
from mcp_tap.http.upstream import UpstreamExchange, UpstreamPool
from mcp_tap.http.upstream_connection import UpstreamError
from mcp_tap.protocol.events import Direction, Headers
from tests.inproc import Collector, assert_error_answer, raw_exchange, through_proxy
from tests.upstreams import EchoApp, ScriptedUpstream, read_request, serve_in_thread

pytestmark = pytest.mark.timeout(60)

RESULT = b'{"jsonrpc":"2.0","id":1,"result":{}}'


def answer(conn: socket.socket, body: bytes = RESULT, extra: bytes = b"") -> None:
    conn.sendall(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        + extra
        + b"content-length: %d\r\n\r\n" % len(body)
        + body
    )


def post_through_proxy(upstream: str, times: int, expected: bytes = RESULT) -> Collector:
    """`times` POSTs of `{}` in a row through a proxy to `upstream`; each must get `expected`."""

    async def body(proxy: str, _: Collector) -> None:
        async with httpx2.AsyncClient(timeout=10) as client:
            for _ in range(times):
                response = await client.post(proxy + "/mcp", content=b"{}")
                assert response.status_code == 200 and response.content == expected

    return through_proxy(upstream + "/mcp", body)


def keep_answering(conn: socket.socket, _: int) -> None:
    while read_request(conn):
        answer(conn)


def test_sequential_requests_share_one_upstream_connection() -> None:
    with ScriptedUpstream(keep_answering) as upstream:
        post_through_proxy(upstream.url, 20)
    assert upstream.connections == 1


def test_an_idle_connection_the_upstream_closed_is_replaced_without_an_error() -> None:
    def close_after_one(conn: socket.socket, number: int) -> None:
        if number == 1:
            read_request(conn)
            answer(conn)
            return  # then close, as a keep-alive timeout does, before the next request
        keep_answering(conn, number)

    async def body(proxy: str, _: Collector) -> None:
        async with httpx2.AsyncClient(timeout=10) as client:
            for _ in range(2):
                response = await client.post(proxy + "/mcp", content=b"{}")
                assert response.status_code == 200 and response.content == RESULT
                await asyncio.sleep(0.3)  # the close reaches the proxy before the next POST

    with ScriptedUpstream(close_after_one) as upstream:
        collector = through_proxy(upstream.url + "/mcp", body)
    assert upstream.connections == 2
    assert collector.faults() == []


def test_an_upstream_that_closes_without_answering_gets_502_and_a_fault() -> None:
    with ScriptedUpstream(lambda conn, _: bool(read_request(conn))) as upstream:

        async def body(proxy: str, _: Collector) -> None:
            request = {"jsonrpc": "2.0", "id": 5, "method": "tools/list"}
            async with httpx2.AsyncClient(timeout=10) as client:
                response = await client.post(proxy + "/mcp", json=request)
            assert_error_answer(response, 502, 5, upstream.url)

        collector = through_proxy(upstream.url + "/mcp", body)
    assert [f.kind for f in collector.faults()] == ["upstream-reset"]
    assert "before the response was complete" in collector.faults()[0].detail


def test_a_body_ended_by_closing_the_connection_arrives_whole() -> None:
    text = "x" * 200_000
    payload = json.dumps({"jsonrpc": "2.0", "id": 1, "result": {"text": text}}).encode()

    def close_delimited(conn: socket.socket, _: int) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n")
        for start in range(0, len(payload), 7000):
            conn.sendall(payload[start : start + 7000])

    with ScriptedUpstream(close_delimited) as upstream:
        collector = post_through_proxy(upstream.url, 2, payload)
    seen = [m for m in collector.messages() if m.direction is Direction.SERVER_TO_CLIENT]
    assert [m.message.payload["result"]["text"] == text for m in seen] == [True, True]
    assert upstream.connections == 2  # such a connection cannot carry a second request


def test_an_interim_100_continue_is_skipped_for_the_real_answer() -> None:
    def continue_first(conn: socket.socket, _: int) -> None:
        while read_request(conn):
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            answer(conn)

    with ScriptedUpstream(continue_first) as upstream:
        post_through_proxy(upstream.url, 3)
    assert upstream.connections == 1


def test_a_head_response_ends_at_its_headers() -> None:
    def head_aware(conn: socket.socket, _: int) -> None:
        while request := read_request(conn):
            if request.startswith(b"HEAD "):
                conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\n")
            else:
                answer(conn)

    with ScriptedUpstream(head_aware) as upstream:

        async def body(proxy: str, _: Collector) -> None:
            async with httpx2.AsyncClient(timeout=10) as client:
                head = await client.head(proxy + "/mcp")
                assert head.status_code == 200 and head.headers["content-length"] == "50"
                response = await client.post(proxy + "/mcp", content=b"{}")
                assert response.content == RESULT

        through_proxy(upstream.url + "/mcp", body, limits=Limits(idle_timeout=5))


def test_malformed_http_from_the_upstream_gets_502_and_a_fault() -> None:
    def malformed(conn: socket.socket, _: int) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 abc nonsense\r\n\r\n")

    with ScriptedUpstream(malformed) as upstream:

        async def body(proxy: str, _: Collector) -> None:
            async with httpx2.AsyncClient(timeout=10) as client:
                response = await client.post(proxy + "/mcp", content=b"{}")
            assert response.status_code == 502

        collector = through_proxy(upstream.url + "/mcp", body)
    assert [f.kind for f in collector.faults()] == ["upstream-reset"]
    assert "malformed HTTP" in collector.faults()[0].detail


def test_the_proxy_adds_no_headers_of_its_own() -> None:
    echo = EchoApp()
    with serve_in_thread(echo) as upstream:

        async def body(proxy: str, _: Collector) -> None:
            # A bare request, so any default header a client library would add shows up.
            host = proxy.removeprefix("http://")
            request = f"POST /mcp HTTP/1.1\r\nhost: {host}\r\nx-only: 1\r\n"
            request += "content-length: 2\r\nconnection: close\r\n\r\n{}"
            answer = await raw_exchange(proxy, request.encode())
            assert answer.startswith(b"HTTP/1.1 200 ")

        through_proxy(upstream + "/mcp", body)
    (seen,) = echo.requests
    host = upstream.removeprefix("http://")
    assert seen["headers"] == [["host", host], ["x-only", "1"], ["content-length", "2"]]


def test_a_pause_that_comes_after_the_response_does_not_stall_the_next_one() -> None:
    """The client socket can fill on the very write that ends a response; the pause it asks
    for then reaches an exchange whose connection is already back in the pool."""

    class PauseAtTheEnd:
        def __init__(self) -> None:
            self.exchange: UpstreamExchange | None = None
            self.done: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        def response_head(self, status: int, headers: Headers) -> None:
            pass

        def response_body(self, chunk: bytes) -> None:
            pass

        def response_flush(self) -> None:
            pass

        def response_end(self) -> None:
            assert self.exchange is not None
            self.exchange.pause_reading()  # as a client write that fills the socket would
            self.done.set_result("end")

        def response_failed(self, error: UpstreamError) -> None:
            self.done.set_result(f"failed: {error}")

    async def two_exchanges(url: str) -> list[str]:
        pool = UpstreamPool(url, idle_timeout=3)
        outcomes = []
        for _ in range(2):
            sink = PauseAtTheEnd()
            sink.exchange = pool.send("POST", "/mcp", [], b"{}", sink)
            outcomes.append(await asyncio.wait_for(sink.done, 10))
        await pool.aclose()
        return outcomes

    with ScriptedUpstream(keep_answering) as upstream:
        assert asyncio.run(two_exchanges(upstream.url)) == ["end", "end"]
    assert upstream.connections == 1


def test_idle_upstream_connections_past_max_idle_upstream_are_closed() -> None:
    """Three calls at once need three upstream connections; with `--max-idle-upstream 1`
    only one of them is kept, so the next three at once open two more."""
    all_three = threading.Barrier(3, timeout=10)  # answer only once three requests are in

    def answer_together(conn: socket.socket, _: int) -> None:
        while read_request(conn):
            all_three.wait()
            answer(conn)

    async def two_rounds(proxy: str, _: Collector) -> None:
        async with httpx2.AsyncClient(timeout=10) as client:
            for _ in range(2):
                calls = [client.post(proxy + "/mcp", content=b"{}") for _ in range(3)]
                for response in await asyncio.gather(*calls):
                    assert response.status_code == 200 and response.content == RESULT

    with ScriptedUpstream(answer_together) as upstream:
        through_proxy(upstream.url + "/mcp", two_rounds, limits=Limits(max_idle_upstream=1))
    assert upstream.connections == 5
