"""Small hand-written upstream servers that let a test see what the proxy sent them.

Each is a plain ASGI app served by uvicorn on 127.0.0.1 in a thread of the test process.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from mcp_tap.http.serving import serving


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """Serve `app` on a free loopback port from a background thread; yield its base URL."""
    ready: list[str] = []
    stop = threading.Event()

    async def main() -> None:
        async with serving(app) as url:
            ready.append(url)
            while not stop.is_set():
                await asyncio.sleep(0.02)

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not ready:
        assert thread.is_alive() and time.monotonic() < deadline, "upstream did not start"
        time.sleep(0.01)
    try:
        yield ready[0]
    finally:
        stop.set()
        thread.join(timeout=10)


class EchoApp:
    """Answers every request with JSON describing what arrived, plus headers to send back."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        seen = {
            "method": scope["method"],
            "path": scope["path"],
            "query": scope["query_string"].decode(),
            "headers": [[k.decode(), v.decode()] for k, v in scope["headers"]],
            "body": body.decode(),
        }
        self.requests.append(seen)
        payload = json.dumps(seen).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401 if scope["path"] == "/unauthorized" else 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", b'Bearer resource_metadata="http://x/.well-known/y"'),
                    (b"mcp-session-id", b"echo-session"),
                    (b"x-custom", b"kept"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


class SlowStreamApp:
    """An SSE response that sends one event every 50 ms for 10 s, noting when the client left."""

    def __init__(self) -> None:
        self.disconnected_at: float | None = None
        self.started_at: float | None = None
        self.events_sent = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await receive()
        self.started_at = time.monotonic()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            self.disconnected_at = time.monotonic()

        watcher = asyncio.ensure_future(watch())
        try:
            for i in range(200):
                if watcher.done():
                    return
                note = {"jsonrpc": "2.0", "method": "notifications/message", "params": {"i": i}}
                chunk = f"data: {json.dumps(note)}\n\n".encode()
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                self.events_sent += 1
                await asyncio.sleep(0.05)
            await send({"type": "http.response.body", "body": b""})
        finally:
            watcher.cancel()


class AbsoluteEndpointApp:
    """A 2024-11-05 style GET /sse whose `endpoint` event names an absolute upstream URL."""

    def __init__(self) -> None:
        self.base = ""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await receive()
        host = dict(scope["headers"])[b"host"].decode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream; charset=utf-8")],
            }
        )
        endpoint = f"http://{host}/messages/?session_id=abc123"
        first = f"event: endpoint\r\ndata: {endpoint}\r\n\r\n".encode()
        await send({"type": "http.response.body", "body": first[:20], "more_body": True})
        await send({"type": "http.response.body", "body": first[20:], "more_body": True})
        await send({"type": "http.response.body", "body": b": ping\r\n\r\n"})


class FaultApp:
    """One misbehaviour per path, for the fault suite."""

    BIG_TEXT_BYTES = 10 * 1024 * 1024

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await receive()
        path = scope["path"]
        if path.startswith("/status/"):
            status = int(path.removeprefix("/status/"))
            body = json.dumps({"jsonrpc": "2.0", "id": 1, "error": {"code": -1, "message": path}})
            await _respond(send, status, "application/json", body.encode())
        elif path == "/big":
            text = "x" * self.BIG_TEXT_BYTES
            body = json.dumps({"jsonrpc": "2.0", "id": 1, "result": {"text": text}}).encode()
            await _respond(send, 200, "application/json", body)
        elif path == "/invalid-json":
            await _respond(send, 200, "application/json", b'{"jsonrpc": "2.0", "id": 1, oops')
        elif path == "/broken-sse":
            body = b"data: {half\nid\x00: 1\r\n\r\nevent\n:\n\ndata: {}\nretry: x\n\ndata: [no end"
            await _respond(send, 200, "text/event-stream", body)
        elif path == "/stall-headers":
            await asyncio.sleep(30)
        elif path == "/stall-stream":
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")],
                }
            )
            first = b'data: {"jsonrpc":"2.0","method":"notifications/message"}\n\n'
            await send({"type": "http.response.body", "body": first, "more_body": True})
            await asyncio.sleep(30)


async def _respond(send: Any, status: int, content_type: str, body: bytes) -> None:
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@contextmanager
def resetting_upstream() -> Iterator[str]:
    """A raw TCP server that starts an SSE response, sends one event, then resets the connection."""

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                conn.recv(65536)
                event = b'data: {"jsonrpc":"2.0","method":"notifications/message"}\n\n'
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                    b"transfer-encoding: chunked\r\n\r\n"
                    + f"{len(event):x}\r\n".encode()
                    + event
                    + b"\r\n"
                )
                time.sleep(0.2)
                # SO_LINGER 0: close sends a TCP reset instead of a clean FIN
                conn.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


class ScriptedUpstream:
    """A raw TCP server whose every connection is handled by `script(conn, number)`.

    For the HTTP a framework would never send: bodies ended by closing, interim 1xx answers,
    connections dropped between requests, malformed status lines.
    """

    def __init__(self, script: Callable[[socket.socket, int], None]):
        self.script = script
        self.connections = 0
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(0.1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> ScriptedUpstream:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            number = self.connections
            conn.settimeout(5)
            threading.Thread(target=self._handle, args=(conn, number), daemon=True).start()

    def _handle(self, conn: socket.socket, number: int) -> None:
        with conn:
            try:
                self.script(conn, number)
            except OSError:
                pass


def read_request(conn: socket.socket) -> bytes:
    """One request head (and the body its content-length announces) from a raw connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            while len(body) < int(value):
                body += conn.recv(65536)
    return head
