"""A loopback TCP relay that keeps every byte both ways, and a reader for the HTTP/1.1 inside.

Put one in front of the proxy and one behind it, and a test can compare what the client
received with what the upstream sent, byte for byte, with the time each byte arrived.
"""

from __future__ import annotations

import bisect
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Flow:
    """The bytes of one direction of one connection, and when each piece arrived."""

    data: bytearray = field(default_factory=bytearray)
    offsets: list[int] = field(default_factory=list)  # where each received piece starts
    times: list[float] = field(default_factory=list)  # time.monotonic() of that piece

    def add(self, piece: bytes) -> None:
        self.offsets.append(len(self.data))
        self.times.append(time.monotonic())
        self.data += piece

    def time_at(self, offset: int) -> float:
        """When the byte at `offset` arrived."""
        return self.times[bisect.bisect_right(self.offsets, offset) - 1]


@dataclass
class Connection:
    to_server: Flow = field(default_factory=Flow)
    to_client: Flow = field(default_factory=Flow)


class TcpTap:
    """Relays 127.0.0.1:<port> to the host and port of `target`; `url` is `target` through it."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self._target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        port = self._listener.getsockname()[1]
        self.url = parts._replace(netloc=f"127.0.0.1:{port}").geturl()
        self.connections: list[Connection] = []
        self._sockets: list[socket.socket] = []
        self._pumps: list[threading.Thread] = []
        self._stop = threading.Event()
        self._acceptor = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> TcpTap:
        self._acceptor.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._acceptor.join(timeout=5)
        deadline = time.monotonic() + 5
        for pump in self._pumps:  # both ends are normally gone by now: let the pumps finish
            pump.join(timeout=max(0.0, deadline - time.monotonic()))
        for sock in self._sockets:
            sock.close()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            server = socket.create_connection(self._target)
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection = Connection()
            self.connections.append(connection)
            self._sockets += [client, server]
            for args in (
                (client, server, connection.to_server),
                (server, client, connection.to_client),
            ):
                pump = threading.Thread(target=self._pump, args=args, daemon=True)
                self._pumps.append(pump)
                pump.start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket, flow: Flow) -> None:
        try:
            while piece := source.recv(65536):
                flow.add(piece)  # noted before it is passed on: no reader sees it earlier
                sink.sendall(piece)
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def exchanges(self) -> list[Exchange]:
        """Every HTTP exchange seen, ordered by when its request started."""
        found = [e for c in self.connections for e in parse_exchanges(c)]
        return sorted(found, key=lambda e: e.started)


@dataclass
class Exchange:
    """One HTTP/1.1 request and its response, bodies without their transfer framing."""

    method: str
    target: str
    request_body: bytes
    started: float
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    _flow: Flow | None = None
    _pieces: list[tuple[int, int]] = field(default_factory=list)  # (body offset, wire offset)

    def time_at(self, body_offset: int) -> float:
        """When the response body's byte at `body_offset` reached this side of the wire."""
        assert self._flow is not None
        starts = [start for start, _ in self._pieces]
        start, wire = self._pieces[bisect.bisect_right(starts, body_offset) - 1]
        return self._flow.time_at(wire + body_offset - start)

    def sse_messages(self) -> list[tuple[int, dict[str, Any]]]:
        """The JSON of each SSE `data:` line in the body, with the body offset it starts at."""
        return [
            (match.start(), json.loads(match.group(1)))
            for match in re.finditer(rb"^data: ?(\{.*?)\r?$", self.body, re.MULTILINE)
        ]


def parse_exchanges(connection: Connection) -> list[Exchange]:
    """The exchanges on one connection: requests and responses paired in order."""
    exchanges: list[Exchange] = []
    requests, responses = connection.to_server, connection.to_client
    position = 0
    while (head := _head(requests.data, position)) is not None:
        start_line, headers, body_start = head
        method, target, _ = start_line.split(" ", 2)
        pieces, position = _body(requests.data, body_start, headers, to_close=False)
        body = b"".join(requests.data[w : w + n] for _, w, n in pieces)
        started = requests.time_at(body_start - 1)
        exchanges.append(Exchange(method, target, body, started))
    position = 0
    for exchange in exchanges:
        while (head := _head(responses.data, position)) is not None:
            start_line, headers, body_start = head
            status = int(start_line.split(" ", 2)[1])
            position = body_start
            if status >= 200:
                break
        else:
            break  # no (final) response
        exchange.status, exchange.headers, exchange._flow = status, headers, responses
        if exchange.method != "HEAD" and status not in (204, 304):
            pieces, position = _body(responses.data, body_start, headers, to_close=True)
            exchange.body = b"".join(responses.data[w : w + n] for _, w, n in pieces)
            exchange._pieces = [(b, w) for b, w, _ in pieces]
    return exchanges


def _head(data: bytearray, start: int) -> tuple[str, dict[str, str], int] | None:
    """(start line, lower-cased headers, offset after the blank line), or None if incomplete."""
    end = data.find(b"\r\n\r\n", start)
    if end < 0:
        return None
    start_line, *lines = data[start:end].decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return start_line, headers, end + 4


def _body(
    data: bytearray, start: int, headers: dict[str, str], to_close: bool
) -> tuple[list[tuple[int, int, int]], int]:
    """The body's pieces as (body offset, wire offset, length), and the offset after it.

    A body cut short (a stream the client closed) yields what arrived.
    """
    if "chunked" in headers.get("transfer-encoding", "").lower():
        pieces: list[tuple[int, int, int]] = []
        position, size = start, 0
        while (line_end := data.find(b"\r\n", position)) >= 0:
            length = int(data[position:line_end].split(b";")[0], 16)
            if length == 0:
                trailers = data.find(b"\r\n\r\n", line_end)
                return pieces, len(data) if trailers < 0 else trailers + 4
            taken = min(length, len(data) - line_end - 2)
            pieces.append((size, line_end + 2, taken))
            size += taken
            position = line_end + 2 + length + 2
        return pieces, len(data)
    if "content-length" in headers:
        length = min(int(headers["content-length"]), len(data) - start)
        return [(0, start, length)], start + length
    end = len(data) if to_close else start
    return [(0, start, end - start)], end
