"""The proxy's HTTP stack against attackers and unlucky users: never a tool run twice, never a hang.

Each case is reproduced with a raw-socket client or a deliberately misbehaving raw upstream
(tests/upstreams.py ScriptedUpstream), so the bytes on the wire are exactly the ones written
here. Every socket read is bounded by a timeout: a hang fails the test, it never stalls it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import logging
import shutil
import socket
import ssl
import subprocess
import threading
import zlib
from pathlib import Path

import httpx2
import pytest

from mcp_tap.http.limits import Limits
from mcp_tap.http.proxy import TapProxy
from mcp_tap.protocol.events import Direction, MessageKind
from tests.inproc import Collector, assert_error_answer, raw_exchange, through_proxy
from tests.upstreams import EchoApp, ScriptedUpstream, read_request, serve_in_thread

pytestmark = pytest.mark.timeout(60)

CALL = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "x"}}
RESULT = b'{"jsonrpc":"2.0","id":7,"result":{}}'


def answer(conn: socket.socket, body: bytes = RESULT, extra: bytes = b"") -> None:
    conn.sendall(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        + extra
        + b"content-length: %d\r\n\r\n" % len(body)
        + body
    )


def fault_kinds(collector: Collector) -> list[str]:
    return [fault.kind for fault in collector.faults()]


async def open_raw(proxy: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, str]:
    host, port = proxy.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    return reader, writer, f"{host}:{port}"


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """One content-length-framed response from a raw connection (bounded in time)."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    lines = head.decode("latin-1").split("\r\n")
    fields = dict(line.lower().split(": ", 1) for line in lines[1:] if line)
    body = await asyncio.wait_for(reader.readexactly(int(fields.get("content-length", 0))), 10)
    return int(lines[0].split()[1]), fields, body


# -- 1. a tool never runs twice ----------------------------------------------------------


class CountingUpstream:
    """The first connection answers once, reads the next request, then dies without answering."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self._lock = threading.Lock()

    def __call__(self, conn: socket.socket, number: int) -> None:
        while True:
            head = read_request(conn)
            if not head:
                return
            with self._lock:
                self.requests.append(head.split(b"\r\n", 1)[0])
                count = len(self.requests)
            if number == 1 and count == 2:
                return  # the request was read: the connection dies before any answer
            answer(conn)


def test_a_post_read_on_a_reused_connection_is_never_sent_again() -> None:
    script = CountingUpstream()
    with ScriptedUpstream(script) as upstream:

        async def body(proxy: str, _: Collector) -> None:
            async with httpx2.AsyncClient(timeout=10) as client:
                first = await client.post(proxy + "/mcp", json=CALL)
                assert first.status_code == 200
                second = await client.post(proxy + "/mcp", json=CALL)
                assert_error_answer(second, 502, 7, upstream.url)
                assert "not sent again" in second.json()["error"]["message"]

        collector = through_proxy(upstream.url + "/mcp", body)
    assert script.requests == [b"POST /mcp HTTP/1.1"] * 2  # the tool ran once per client call
    assert fault_kinds(collector) == ["upstream-reset"]


def test_a_get_on_a_reused_connection_that_died_is_sent_again() -> None:
    script = CountingUpstream()
    with ScriptedUpstream(script) as upstream:

        async def body(proxy: str, _: Collector) -> None:
            async with httpx2.AsyncClient(timeout=10) as client:
                for _ in range(2):
                    response = await client.get(proxy + "/mcp")
                    assert response.status_code == 200 and response.content == RESULT

        collector = through_proxy(upstream.url + "/mcp", body)
    assert script.requests == [b"GET /mcp HTTP/1.1"] * 3  # GET is idempotent: sent once more
    assert collector.faults() == []


# -- 2. an exception inside a parser callback still answers --------------------------------


def test_an_origin_that_is_not_a_url_is_refused_not_hung() -> None:
    with serve_in_thread(EchoApp()) as upstream:

        async def body(proxy: str, _: Collector) -> None:
            host = proxy.removeprefix("http://")
            reader, writer, host = await open_raw(proxy)
            writer.write(
                f"POST /mcp HTTP/1.1\r\nhost: {host}\r\norigin: http://[evil\r\n"
                "content-length: 2\r\n\r\n{}".encode()
            )
            status, _, payload = await read_response(reader)  # bounded: a hang fails
            writer.close()
            assert status == 403 and b"not a valid origin" in payload

        collector = through_proxy(upstream + "/mcp", body)
    assert fault_kinds(collector) == ["request-refused"]


def test_a_bug_while_serving_answers_500_closes_and_records_a_fault(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken_serve(*_: object) -> None:
        raise ValueError("boom")

    monkeypatch.setattr(TapProxy, "serve", broken_serve)
    with serve_in_thread(EchoApp()) as upstream:

        async def body(proxy: str, _: Collector) -> None:
            host = proxy.removeprefix("http://")
            request = f"POST /mcp HTTP/1.1\r\nhost: {host}\r\ncontent-length: 2\r\n\r\n{{}}"
            answer = await raw_exchange(proxy, request.encode())
            assert answer.startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
            payload = json.loads(answer.partition(b"\r\n\r\n")[2])
            assert "ValueError: boom" in payload["error"]["message"]

        collector = through_proxy(upstream + "/mcp", body)
    (fault,) = collector.faults()
    assert fault.kind == "proxy-error" and "ValueError: boom" in fault.detail


# -- 3. one bad response never poisons the pool ---------------------------------------------


def test_bytes_after_a_complete_response_close_that_connection() -> None:
    per_connection: dict[int, int] = {}

    def overrun(conn: socket.socket, number: int) -> None:
        while read_request(conn):
            per_connection[number] = per_connection.get(number, 0) + 1
            if number == 1:
                # A whole response and the start of another, in one write.
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\n\r\n%s"
                    b"HTTP/1.1 200 OK\r\ncontent-le" % (len(RESULT), RESULT)
                )
            else:
                answer(conn)

    with ScriptedUpstream(overrun) as upstream:

        async def body(proxy: str, _: Collector) -> None:
            async with httpx2.AsyncClient(timeout=5) as client:
                for _ in range(3):
                    response = await client.post(proxy + "/mcp", json=CALL)
                    assert response.status_code == 200 and response.content == RESULT

        collector = through_proxy(upstream.url + "/mcp", body)
    assert per_connection[1] == 1  # the poisoned connection carried nothing more
    assert collector.faults() == []


def test_a_pooled_connection_with_unasked_bytes_waiting_is_not_reused() -> None:
    per_connection: dict[int, int] = {}

    def chatty(conn: socket.socket, number: int) -> None:
        while read_request(conn):
            per_connection[number] = per_connection.get(number, 0) + 1
            answer(conn)
            if number == 1:
                conn.sendall(b"HTTP/1.1 200 OK\r\n")  # unasked, after the response

    with ScriptedUpstream(chatty) as upstream:

        async def body(proxy: str, _: Collector) -> None:
            async with httpx2.AsyncClient(timeout=5) as client:
                for _ in range(2):
                    response = await client.post(proxy + "/mcp", json=CALL)
                    assert response.status_code == 200 and response.content == RESULT
                    await asyncio.sleep(0.2)

        through_proxy(upstream.url + "/mcp", body)
    assert per_connection == {1: 1, 2: 1}


# -- 4. 100 Continue waits for its own request's turn ----------------------------------------


def test_expect_100_continue_is_never_written_inside_another_response() -> None:
    def stream_then_answer(conn: socket.socket, _: int) -> None:
        read_request(conn)
        conn.sendall(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
        )
        event = b'data: {"jsonrpc":"2.0","method":"notifications/message","params":{}}\n\n'
        for _ in range(5):
            conn.sendall(b"%x\r\n%s\r\n" % (len(event), event))
            threading.Event().wait(0.1)
        conn.sendall(b"0\r\n\r\n")
        while read_request(conn):
            answer(conn)

    with ScriptedUpstream(stream_then_answer) as upstream:

        async def body(proxy: str, _: Collector) -> None:
            reader, writer, host = await open_raw(proxy)
            writer.write(
                f"GET /mcp HTTP/1.1\r\nhost: {host}\r\naccept: text/event-stream\r\n\r\n".encode()
            )
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            assert head.startswith(b"HTTP/1.1 200 OK")
            writer.write(
                f"POST /mcp HTTP/1.1\r\nhost: {host}\r\ncontent-length: 2\r\n"
                "expect: 100-continue\r\n\r\n".encode()
            )
            stream = await asyncio.wait_for(reader.readuntil(b"0\r\n\r\n"), 10)
            assert b"100 Continue" not in stream
            interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
            writer.write(b"{}")
            status, _, payload = await read_response(reader)
            assert status == 200 and payload == RESULT
            writer.close()

        through_proxy(upstream.url + "/mcp", body)


# -- 5. an upstream 101 is answered 502 -----------------------------------------------------


def test_an_upstream_101_gets_502_and_a_fault_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def upgrade(conn: socket.socket, _: int) -> None:
        read_request(conn)
        conn.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n"
            b"\x81\x05hello"
        )
        threading.Event().wait(0.5)

    caplog.set_level(logging.ERROR)
    with ScriptedUpstream(upgrade) as upstream:

        async def body(proxy: str, _: Collector) -> None:
            async with httpx2.AsyncClient(timeout=5) as client:
                response = await client.post(proxy + "/mcp", json=CALL)
            assert_error_answer(response, 502, 7, upstream.url)
            assert "101 Switching Protocols" in response.json()["error"]["message"]

        collector = through_proxy(upstream.url + "/mcp", body)
    assert fault_kinds(collector) == ["upstream-upgrade"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# -- 6. compressed answers are inspected ----------------------------------------------------


def progress(n: int) -> bytes:
    note = {
        "jsonrpc": "2.0",
        "method": "notifications/progress",
        "params": {"progressToken": "t", "progress": n, "total": 3},
    }
    return b"data: " + json.dumps(note).encode() + b"\n\n"


def test_gzip_json_and_sse_answers_are_forwarded_untouched_and_inspected() -> None:
    json_body = gzip.compress(RESULT)
    compressor = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
    pieces = [
        compressor.compress(progress(n)) + compressor.flush(zlib.Z_SYNC_FLUSH) for n in (1, 2, 3)
    ]
    pieces.append(compressor.compress(b"data: " + RESULT + b"\n\n") + compressor.flush())
    sse_body = b"".join(pieces)

    def compressed(conn: socket.socket, _: int) -> None:
        while head := read_request(conn):
            if b"accept: text/event-stream" not in head.lower():
                answer(conn, json_body, extra=b"content-encoding: gzip\r\n")
                continue
            conn.sendall(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-encoding: gzip\r\n"
                b"transfer-encoding: chunked\r\n\r\n"
            )
            for piece in pieces:
                conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            conn.sendall(b"0\r\n\r\n")

    with ScriptedUpstream(compressed) as upstream:

        async def body(proxy: str, _: Collector) -> None:
            async with httpx2.AsyncClient(timeout=5) as client:
                plain = await client.post(proxy + "/mcp", json=CALL)
                assert plain.content == RESULT  # httpx2 undid the gzip: the bytes were intact
                async with client.stream(
                    "POST", proxy + "/mcp", json=CALL, headers={"accept": "text/event-stream"}
                ) as streamed:
                    raw = b"".join([chunk async for chunk in streamed.aiter_raw()])
                assert raw == sse_body  # the compressed bytes themselves, untouched

        collector = through_proxy(upstream.url + "/mcp", body)
    received = [
        m.message for m in collector.messages() if m.direction is Direction.SERVER_TO_CLIENT
    ]
    assert [m.kind for m in received] == [
        MessageKind.RESPONSE,
        MessageKind.NOTIFICATION,
        MessageKind.NOTIFICATION,
        MessageKind.NOTIFICATION,
        MessageKind.RESPONSE,
    ]
    assert [m.payload["params"]["progress"] for m in received[1:4]] == [1, 2, 3]


def test_an_unknown_encoding_is_forwarded_and_said_to_be_not_inspected() -> None:
    def zstd(conn: socket.socket, _: int) -> None:
        read_request(conn)
        answer(conn, b"(\xb5/\xfd not really zstd", extra=b"content-encoding: zstd\r\n")
        read_request(conn)

    with ScriptedUpstream(zstd) as upstream:

        async def body(proxy: str, _: Collector) -> None:
            async with httpx2.AsyncClient(timeout=5) as client:
                request = client.build_request("POST", proxy + "/mcp", json=CALL)
                response = await client.send(request, stream=True)
                assert await response.aread() == b"(\xb5/\xfd not really zstd"
                await response.aclose()

        collector = through_proxy(upstream.url + "/mcp", body)
    (seen,) = [m.message for m in collector.messages() if m.direction is Direction.SERVER_TO_CLIENT]
    assert seen.kind is MessageKind.INVALID
    assert seen.problem is not None and "not inspected" in seen.problem and "zstd" in seen.problem


# -- 7. limits ----------------------------------------------------------------------------


def test_a_request_head_over_64_kib_gets_431() -> None:
    with serve_in_thread(EchoApp()) as upstream:

        async def body(proxy: str, _: Collector) -> None:
            host = proxy.removeprefix("http://")
            huge = "a" * (100 * 1024)
            request = f"GET /mcp HTTP/1.1\r\nhost: {host}\r\nx-big: {huge}\r\n\r\n"
            answer = await raw_exchange(proxy, request.encode())
            assert answer.startswith(b"HTTP/1.1 431 ")
            assert b"--max-header-bytes" in answer

        collector = through_proxy(upstream + "/mcp", body)
    assert fault_kinds(collector) == ["request-too-large"]


@pytest.mark.parametrize("stall", ["headers", "body"])
def test_a_client_that_stalls_mid_request_gets_408(stall: str) -> None:
    limits = Limits(header_timeout=0.5, body_timeout=0.5)
    with serve_in_thread(EchoApp()) as upstream:

        async def body(proxy: str, _: Collector) -> None:
            reader, writer, host = await open_raw(proxy)
            if stall == "headers":
                writer.write(f"POST /mcp HTTP/1.1\r\nhost: {host}\r\nx-slow: ".encode())
            else:
                writer.write(
                    f"POST /mcp HTTP/1.1\r\nhost: {host}\r\ncontent-length: 10\r\n\r\n{{}}".encode()
                )
            answer = await asyncio.wait_for(reader.read(-1), 10)  # until the proxy closes
            writer.close()
            assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
            flag = {"headers": b"--header-timeout", "body": b"--body-timeout"}[stall]
            assert flag in answer

        collector = through_proxy(upstream + "/mcp", body, limits=limits)
    assert fault_kinds(collector) == ["request-timeout"]


def test_client_connections_past_the_cap_get_503_and_the_rest_are_served() -> None:
    with serve_in_thread(EchoApp()) as upstream:

        async def body(proxy: str, _: Collector) -> None:
            held = [await open_raw(proxy) for _ in range(3)]
            _, _, host = held[0]
            reader, writer, _ = await open_raw(proxy)
            answer = await asyncio.wait_for(reader.read(-1), 10)
            writer.close()
            assert answer.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
            _, first, _ = held[0]
            first.close()
            await asyncio.sleep(0.2)
            request = f"GET /mcp HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n"
            assert (await raw_exchange(proxy, request.encode())).startswith(b"HTTP/1.1 200 OK")
            for _, other, _ in held[1:]:
                other.close()

        collector = through_proxy(upstream + "/mcp", body, limits=Limits(max_connections=3))
    assert fault_kinds(collector) == ["too-many-connections"]


def test_a_message_over_the_inspection_limit_is_forwarded_whole_and_recorded_cut() -> None:
    big = json.dumps({"jsonrpc": "2.0", "id": 7, "result": {"text": "x" * 5000}}).encode()
    event = b"data: " + big + b"\n\n"

    def big_answers(conn: socket.socket, _: int) -> None:
        while head := read_request(conn):
            if b"accept: text/event-stream" in head.lower():
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                    b"content-length: %d\r\n\r\n%s" % (len(event), event)
                )
            else:
                answer(conn, big)

    with ScriptedUpstream(big_answers) as upstream:

        async def body(proxy: str, _: Collector) -> None:
            async with httpx2.AsyncClient(timeout=5) as client:
                plain = await client.post(proxy + "/mcp", json=CALL)
                assert plain.content == big
                sse = await client.post(
                    proxy + "/mcp", json=CALL, headers={"accept": "text/event-stream"}
                )
                assert sse.content == event

        collector = through_proxy(upstream.url + "/mcp", body, limits=Limits(max_inspect=1000))
    cut = [m.message for m in collector.messages() if m.direction is Direction.SERVER_TO_CLIENT]
    assert [m.kind for m in cut] == [MessageKind.INVALID, MessageKind.INVALID]
    for message in cut:
        assert (
            message.raw is not None
            and len(message.raw) == 1024
            and big.decode().startswith(message.raw)
        )
        assert (
            message.problem is not None and "over the inspection limit of 1000" in message.problem
        )


# -- 8. the smaller ones --------------------------------------------------------------------


def test_a_client_that_half_closes_after_its_request_gets_the_answer() -> None:
    with serve_in_thread(EchoApp()) as upstream:

        async def body(proxy: str, _: Collector) -> None:
            reader, writer, host = await open_raw(proxy)
            writer.write(
                f"POST /mcp HTTP/1.1\r\nhost: {host}\r\ncontent-length: 2\r\n\r\n{{}}".encode()
            )
            writer.write_eof()
            status, fields, payload = await read_response(reader)
            assert status == 200 and json.loads(payload)["body"] == "{}"
            assert fields["connection"] == "close"
            writer.close()

        through_proxy(upstream + "/mcp", body)


def test_an_http_1_0_keep_alive_client_is_told_the_connection_stays_open() -> None:
    with serve_in_thread(EchoApp()) as upstream:

        async def body(proxy: str, _: Collector) -> None:
            reader, writer, host = await open_raw(proxy)
            for n in (1, 2):
                writer.write(
                    f"POST /mcp/{n} HTTP/1.0\r\nhost: {host}\r\nconnection: keep-alive\r\n"
                    "content-length: 2\r\n\r\n{}".encode()
                )
                status, fields, payload = await read_response(reader)
                assert status == 200 and json.loads(payload)["path"] == f"/mcp/{n}"
                assert fields["connection"] == "keep-alive"
            writer.close()

        through_proxy(upstream + "/mcp", body)


def test_a_fragment_is_not_forwarded_upstream() -> None:
    echo = EchoApp()
    with serve_in_thread(echo) as upstream:

        async def body(proxy: str, _: Collector) -> None:
            host = proxy.removeprefix("http://")
            request = f"GET /mcp?a=1#secret HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n"
            assert (await raw_exchange(proxy, request.encode())).startswith(b"HTTP/1.1 200 OK")

        through_proxy(upstream + "/mcp", body)
    assert [(r["path"], r["query"]) for r in echo.requests] == [("/mcp", "a=1")]


def test_tls_to_a_plain_http_port_says_so() -> None:
    with serve_in_thread(EchoApp()) as upstream:
        tls_target = upstream.replace("http://", "https://") + "/mcp"

        async def body(proxy: str, _: Collector) -> None:
            async with httpx2.AsyncClient(timeout=10) as client:
                response = await client.post(proxy + "/mcp", json=CALL)
            assert_error_answer(response, 502, 7, tls_target)
            assert "plain http" in response.json()["error"]["message"]

        collector = through_proxy(tls_target, body)
    assert fault_kinds(collector) == ["upstream-untrusted"]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make a certificate")
def test_an_untrusted_certificate_is_named_as_such(tmp_path: Path) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    def tls_handshake(conn: socket.socket, _: int) -> None:
        with contextlib.suppress(ssl.SSLError, OSError):
            context.wrap_socket(conn, server_side=True).close()

    with ScriptedUpstream(tls_handshake) as upstream:
        tls_target = upstream.url.replace("http://", "https://") + "/mcp"

        async def body(proxy: str, _: Collector) -> None:
            async with httpx2.AsyncClient(timeout=10) as client:
                response = await client.post(proxy + "/mcp", json=CALL)
            assert_error_answer(response, 502, 7, tls_target)
            message = response.json()["error"]["message"]
            assert "certificate not trusted" in message and "SSL_CERT_FILE" in message
            assert "unreachable" not in message

        collector = through_proxy(tls_target, body)
    assert fault_kinds(collector) == ["upstream-untrusted"]
