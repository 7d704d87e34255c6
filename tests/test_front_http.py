"""The proxy's listening side against clients that use the less common parts of HTTP/1.1.

Each client here is a raw socket on 127.0.0.1, so the bytes on the wire are exactly the ones
written; the upstream is EchoApp or a ScriptedUpstream (tests/upstreams.py).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading

import pytest

from tests.inproc import Collector, raw_exchange, through_proxy
from tests.upstreams import EchoApp, ScriptedUpstream, read_request, serve_in_thread

pytestmark = pytest.mark.timeout(60)


def responses(data: bytes) -> list[tuple[int, dict[str, object]]]:
    """Split content-length-framed responses into (status, JSON body) pairs."""
    found = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        fields = dict(line.lower().split(": ", 1) for line in lines[1:])
        length = int(fields["content-length"])
        found.append((int(lines[0].split()[1]), json.loads(rest[:length])))
        data = rest[length:]
    return found


def test_pipelined_requests_are_answered_in_order() -> None:
    echo = EchoApp()
    with serve_in_thread(echo) as upstream:

        async def body(proxy: str, _: Collector) -> None:
            host = proxy.removeprefix("http://")
            requests = b"".join(
                f"POST /mcp/{n} HTTP/1.1\r\nhost: {host}\r\ncontent-length: 2\r\n"
                f"{'connection: close' if n == 3 else 'x-n: ' + str(n)}\r\n\r\n{{}}".encode()
                for n in (1, 2, 3)
            )
            answers = responses(await raw_exchange(proxy, requests))
            assert [(status, seen["path"]) for status, seen in answers] == [
                (200, "/mcp/1"),
                (200, "/mcp/2"),
                (200, "/mcp/3"),
            ]

        through_proxy(upstream + "/mcp", body)


def test_an_http_1_0_client_gets_its_answer_and_the_connection_closes() -> None:
    with serve_in_thread(EchoApp()) as upstream:

        async def body(proxy: str, _: Collector) -> None:
            host = proxy.removeprefix("http://")
            answer = await raw_exchange(
                proxy, f"GET /mcp?x=1 HTTP/1.0\r\nhost: {host}\r\n\r\n".encode()
            )
            ((status, seen),) = responses(answer)
            assert status == 200 and seen["query"] == "x=1"

        through_proxy(upstream + "/mcp", body)


def test_a_chunked_request_body_arrives_whole_with_a_length() -> None:
    echo = EchoApp()
    with serve_in_thread(echo) as upstream:

        async def body(proxy: str, _: Collector) -> None:
            host = proxy.removeprefix("http://")
            request = (
                f"POST /mcp HTTP/1.1\r\nhost: {host}\r\ntransfer-encoding: chunked\r\n"
                'connection: close\r\n\r\n5\r\n{"a":\r\n3\r\n 1}\r\n0\r\n\r\n'
            ).encode()
            ((status, seen),) = responses(await raw_exchange(proxy, request))
            assert status == 200 and seen["body"] == '{"a": 1}'
            assert ["content-length", "8"] in seen["headers"]
            assert "transfer-encoding" not in dict(seen["headers"])

        through_proxy(upstream + "/mcp", body)


def test_expect_100_continue_gets_its_interim_answer() -> None:
    with serve_in_thread(EchoApp()) as upstream:

        async def body(proxy: str, _: Collector) -> None:
            host, port = proxy.removeprefix("http://").split(":")
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(
                f"POST /mcp HTTP/1.1\r\nhost: {host}:{port}\r\ncontent-length: 2\r\n"
                "expect: 100-continue\r\nconnection: close\r\n\r\n".encode()
            )
            interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
            writer.write(b"{}")
            ((status, seen),) = responses(await asyncio.wait_for(reader.read(-1), 10))
            writer.close()
            assert status == 200 and seen["body"] == "{}"

        through_proxy(upstream + "/mcp", body)


def test_a_malformed_request_gets_400_and_the_proxy_goes_on() -> None:
    with serve_in_thread(EchoApp()) as upstream:

        async def body(proxy: str, _: Collector) -> None:
            answer = await raw_exchange(proxy, b"NOT HTTP AT ALL\r\n\r\n")
            assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
            host = proxy.removeprefix("http://")
            request = f"GET /mcp HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n"
            ((status, _seen),) = responses(await raw_exchange(proxy, request.encode()))
            assert status == 200

        through_proxy(upstream + "/mcp", body)


def test_a_client_that_stops_reading_stops_the_upstream_too() -> None:
    """Back-pressure: the proxy reads the upstream no faster than the client reads it."""
    total = 64 * 1024 * 1024
    sent = [0]
    done = threading.Event()

    def firehose(conn: socket.socket, _: int) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n")
        conn.sendall(b"content-length: %d\r\n\r\n" % total)
        block = b"x" * 65536
        conn.settimeout(1.0)  # a send blocked this long means the proxy stopped reading
        try:
            while sent[0] < total:
                sent[0] += conn.send(block)
        except TimeoutError:
            done.wait(20)  # hold the connection until the test has looked

    with ScriptedUpstream(firehose) as upstream:

        async def body(proxy: str, _: Collector) -> None:
            host, port = proxy.removeprefix("http://").split(":")
            reader, writer = await asyncio.open_connection(host, int(port), limit=1024)
            writer.transport.pause_reading()  # a client that reads nothing
            writer.write(f"GET /big HTTP/1.1\r\nhost: {host}:{port}\r\n\r\n".encode())
            previous = -1
            while sent[0] != previous:  # until the upstream can send no more
                previous = sent[0]
                await asyncio.sleep(1.5)
            assert sent[0] < total // 4, f"the proxy took {sent[0]} bytes nobody read"
            done.set()
            writer.close()

        through_proxy(upstream.url + "/mcp", body)
