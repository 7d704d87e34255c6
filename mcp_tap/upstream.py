"""The proxy's HTTP/1.1 client to its one upstream: a keep-alive pool over asyncio and llhttp.

A general client (httpx → httpcore → anyio → h11) spent about 1.5 ms of CPU on every small
request, more than the proxy spent on everything else. This one is a single asyncio Protocol
per connection feeding httptools' C parser: body bytes are handed on from the parser callback,
whatever arrived since the last read is taken in one piece, and reading from the upstream
pauses only when the client falls 256 KiB behind, so nothing waits on a buffer that could go.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterable
from typing import cast
from urllib.parse import urlsplit

import httptools

from mcp_tap.events import Headers

# Longer than the SDKs' own 300 s SSE read timeout, so a quiet stream is never cut by us first.
DEFAULT_IDLE_TIMEOUT = 330.0
PAUSE_READING_AT = 256 * 1024  # bytes read but not yet taken by the proxy
MAX_IDLE_CONNECTIONS = 200
CONNECT_TIMEOUT = 10.0
BODILESS_STATUSES = frozenset({204, 304})
BODY_EXPECTED = frozenset({"POST", "PUT", "PATCH"})


class UpstreamError(Exception):
    """The upstream could not be reached, or broke off an exchange."""


class UpstreamUnreachable(UpstreamError):
    """No connection could be made."""


class UpstreamTimeout(UpstreamError):
    """The upstream sent nothing for the idle timeout (or did not accept a connection)."""


class UpstreamBroken(UpstreamError):
    """The connection closed, reset or spoke malformed HTTP before the response was complete."""


class UpstreamPool:
    """Keep-alive connections to one origin; `request()` sends one exchange on one of them."""

    def __init__(self, origin: str, idle_timeout: float, connect_timeout: float = CONNECT_TIMEOUT):
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"upstream must be an http(s) origin, got {origin!r}")
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.host_header = parts.netloc.rpartition("@")[2]
        self.idle_timeout = idle_timeout
        self.connect_timeout = connect_timeout
        self._tls = ssl.create_default_context() if parts.scheme == "https" else None
        self._idle: list[_Connection] = []

    async def send(
        self, method: str, target: str, headers: Iterable[tuple[str, str]], body: bytes
    ) -> UpstreamRequest:
        """Write the request, on an idle connection or a new one; `response()` awaits the answer.

        Returns as soon as the request is written, so the caller can inspect it while the
        upstream works. Raises UpstreamUnreachable or UpstreamTimeout if no connection opens.
        """
        head = self._head(method, target, headers, body)
        connection = self._reusable_connection()
        reused = connection is not None
        if connection is None:
            connection = await self.connect()
        connection.send(method, head, body)
        return UpstreamRequest(self, connection, reused, method, head, body)

    def release(self, connection: _Connection) -> None:
        """Take back a connection whose exchange is over: keep it if it can carry another."""
        if connection.reusable and len(self._idle) < MAX_IDLE_CONNECTIONS:
            self._idle.append(connection)
        else:
            connection.abort()

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.abort()

    def _reusable_connection(self) -> _Connection | None:
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed:
                return connection
        return None

    async def connect(self) -> _Connection:
        """A new connection to the upstream."""
        loop = asyncio.get_running_loop()
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _Connection(loop, self.idle_timeout),
                    self.host,
                    self.port,
                    ssl=self._tls,
                    server_hostname=self.host if self._tls is not None else None,
                ),
                self.connect_timeout,
            )
        except TimeoutError:
            raise UpstreamTimeout(
                f"did not accept a connection within {self.connect_timeout:g} s"
            ) from None
        except OSError as error:
            reason = error.strerror or str(error) or "connection refused"
            raise UpstreamUnreachable(reason) from None
        return connection

    def _head(
        self, method: str, target: str, headers: Iterable[tuple[str, str]], body: bytes
    ) -> bytes:
        lines = [f"{method} {target} HTTP/1.1\r\nhost: {self.host_header}\r\n"]
        lines.extend(f"{name}: {value}\r\n" for name, value in headers)
        if body or method in BODY_EXPECTED:
            lines.append(f"content-length: {len(body)}\r\n")
        lines.append("\r\n")
        return "".join(lines).encode("latin-1")


class UpstreamRequest:
    """A request written to the upstream, whose response head is still to come."""

    __slots__ = ("_pool", "_connection", "_reused", "_method", "_head", "_body")

    def __init__(
        self,
        pool: UpstreamPool,
        connection: _Connection,
        reused: bool,
        method: str,
        head: bytes,
        body: bytes,
    ):
        self._pool = pool
        self._connection = connection
        self._reused = reused
        self._method = method
        self._head = head
        self._body = body

    async def response(self) -> UpstreamResponse:
        """Wait for the status line and headers; the body is read from the result."""
        try:
            return await self._connection.response(self._pool)
        except UpstreamBroken:
            if not self._reused or self._connection.answered:
                raise
        # The upstream closed this idle connection as the request went out, so the request
        # was never read: it goes once more on a new connection, as browsers do.
        self._connection = await self._pool.connect()
        self._connection.send(self._method, self._head, self._body)
        return await self._connection.response(self._pool)

    def cancel(self) -> None:
        """Give up on the response: closing the connection is what the upstream sees."""
        self._connection.abort()


class UpstreamResponse:
    """A response whose head has arrived; `read()` the body, then `close()` it."""

    __slots__ = ("status", "headers", "_connection", "_pool")

    def __init__(self, pool: UpstreamPool, connection: _Connection, status: int, headers: Headers):
        self.status = status
        self.headers = headers  # names lower-cased, in the order received
        self._connection = connection
        self._pool = pool

    async def read(self) -> bytes:
        """Every body byte that arrived since the last read; b"" once the body is complete.

        Raises UpstreamTimeout if the upstream went silent, UpstreamBroken if it broke off.
        """
        return await self._connection.read()

    def close(self) -> None:
        """Hand the connection back: reused if the body was read to its end, else closed."""
        self._pool.release(self._connection)


class _Connection(asyncio.Protocol):
    """One upstream connection, carrying one exchange at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop, idle_timeout: float):
        self._loop = loop
        self._idle_timeout = idle_timeout
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self.closed = False
        self.answered = False  # any byte of the current response has arrived
        self._in_flight = False
        self._head_only = False
        self._interim = False  # inside a 1xx response, which is skipped
        self._status = 0
        self._headers: list[tuple[str, str]] = []
        self._has_head = False
        self._until_close = False
        self._complete = False
        self._keep_alive = False
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._paused = False
        self._error: UpstreamError | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._last_activity = 0.0
        self._watchdog: asyncio.TimerHandle | None = None

    @property
    def reusable(self) -> bool:
        return self._complete and self._keep_alive and not self.closed and not self._head_only

    def send(self, method: str, head: bytes, body: bytes) -> None:
        assert self._transport is not None and not self._in_flight
        self._reset(method)
        self._transport.writelines((head, body) if body else (head,))
        self._last_activity = self._loop.time()
        self._watchdog = self._loop.call_later(self._idle_timeout, self._check_idle)

    async def response(self, pool: UpstreamPool) -> UpstreamResponse:
        try:
            while not self._has_head:
                if self._error is not None:
                    raise self._error
                await self._wait()
        except BaseException:
            self.abort()
            raise
        return UpstreamResponse(pool, self, self._status, tuple(self._headers))

    async def read(self) -> bytes:
        while not self._chunks:
            if self._error is not None:
                raise self._error
            if self._complete:
                return b""
            await self._wait()
        chunks, self._chunks, self._buffered = self._chunks, [], 0
        self._last_activity = self._loop.time()
        if self._paused and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def abort(self) -> None:
        self._in_flight = False
        self._stop_watchdog()
        if self._transport is not None and not self.closed:
            self.closed = True
            self._transport.abort()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        if not self._in_flight:
            self.abort()  # bytes nobody asked for: the connection cannot be trusted again
            return
        self.answered = True
        self._last_activity = self._loop.time()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(UpstreamBroken(f"sent malformed HTTP ({error})"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._stop_watchdog()
        if not self._in_flight or self._complete:
            return
        if self._has_head and self._until_close and exc is None:
            self._complete = True  # a body delimited by the end of the connection
            self._wake()
        elif exc is None:
            self._fail(UpstreamBroken("closed the connection before the response was complete"))
        else:
            self._fail(UpstreamBroken(f"broke off the connection ({type(exc).__name__})"))

    # httptools callbacks

    def on_message_begin(self) -> None:
        self._headers = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.decode("latin-1").lower(), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            self._interim = True  # 100 Continue and friends: the real response follows
            return
        self._status = status
        self._has_head = True
        framed = any(
            name == "content-length" or (name == "transfer-encoding" and "chunked" in value.lower())
            for name, value in self._headers
        )
        self._until_close = not framed and status not in BODILESS_STATUSES
        if self._head_only:
            self._complete = True  # a HEAD response has no body, whatever its headers say
        self._wake()

    def on_body(self, body: bytes) -> None:
        if self._complete:
            return
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered >= PAUSE_READING_AT and not self._paused and self._transport is not None:
            self._paused = True
            self._transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        if self._complete:
            return
        self._complete = True
        self._keep_alive = self._parser.should_keep_alive()
        self._in_flight = False
        self._stop_watchdog()
        self._wake()

    # internals

    def _reset(self, method: str) -> None:
        self._in_flight = True
        self._head_only = method == "HEAD"
        self.answered = False
        self._interim = False
        self._status = 0
        self._headers = []
        self._has_head = False
        self._until_close = False
        self._complete = False
        self._keep_alive = False
        self._chunks = []
        self._buffered = 0
        self._error = None

    async def _wait(self) -> None:
        waiter = self._loop.create_future()
        self._waiter = waiter
        try:
            await waiter
        finally:
            self._waiter = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: UpstreamError) -> None:
        if self._error is None:
            self._error = error
        self.abort()
        self._wake()

    def _check_idle(self) -> None:
        self._watchdog = None
        if not self._in_flight:
            return
        silent_for = self._loop.time() - self._last_activity
        if self._paused or silent_for < self._idle_timeout:
            # Paused means the client is slow, not the upstream: keep waiting.
            remaining = self._idle_timeout - (0.0 if self._paused else silent_for)
            self._watchdog = self._loop.call_later(remaining, self._check_idle)
            return
        self._fail(UpstreamTimeout(f"sent nothing for {self._idle_timeout:g} s"))

    def _stop_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
