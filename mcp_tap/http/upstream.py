"""The proxy's HTTP/1.1 client to its one upstream: a keep-alive pool over asyncio and llhttp.

A general client (httpx → httpcore → anyio → h11) spent about 1.5 ms of CPU on every small
request, more than the proxy spent on everything else. Here each connection is one asyncio
Protocol feeding httptools' C parser, and the response goes to a `ResponseSink` from the
parser's own callbacks: no task wakes up per chunk and no buffer sits in between. After each
read from the socket the sink is told to flush, so whatever arrived together leaves together.
"""

from __future__ import annotations

import asyncio
import select
import ssl
from collections.abc import Iterable
from typing import Protocol, cast
from urllib.parse import urlsplit

import httptools

from mcp_tap.http.limits import DEFAULT_UPSTREAM_KEEP_ALIVE
from mcp_tap.http.serving import disable_nagle
from mcp_tap.protocol.events import Headers

CONNECT_TIMEOUT = 10.0
MAX_IDLE_CONNECTIONS = 200
BODILESS_STATUSES = frozenset({204, 304})
BODY_EXPECTED = frozenset({"POST", "PUT", "PATCH"})
# Requests that may go twice (RFC 9110 §9.2.2). A tools/call POST may not: once a byte of it
# has been written, the server may have run the tool.
RETRYABLE = frozenset({"GET", "HEAD", "OPTIONS"})
PEEK_AFTER = 0.5  # seconds idle before a pooled connection is checked for a pending close


class UpstreamError(Exception):
    """The upstream could not be reached, or broke off an exchange."""


class UpstreamUnreachable(UpstreamError):
    """No connection could be made."""


class UpstreamTimeout(UpstreamError):
    """The upstream sent nothing for the idle timeout (or did not accept a connection)."""


class UpstreamBroken(UpstreamError):
    """The connection closed, reset or spoke malformed HTTP before the response was complete."""


class UpstreamUpgrade(UpstreamBroken):
    """The upstream answered 101 Switching Protocols, which an MCP proxy does not tunnel."""


class UpstreamUntrusted(UpstreamError):
    """TLS to the upstream failed: its certificate is not trusted, or it does not speak TLS."""


class ResponseSink(Protocol):
    """Where an upstream response goes, called from the event loop as bytes arrive."""

    def response_head(self, status: int, headers: Headers) -> None:
        """The status line and headers (names lower-cased, in the order received)."""

    def response_body(self, chunk: bytes) -> None:
        """A piece of the body; more may come before the next flush."""

    def response_flush(self) -> None:
        """Everything from one read of the socket has been handed over."""

    def response_end(self) -> None:
        """The body is complete."""

    def response_failed(self, error: UpstreamError) -> None:
        """No (further) response will come; the last call for this exchange."""


class UpstreamPool:
    """Keep-alive connections to one origin; `send()` starts one exchange."""

    def __init__(
        self,
        origin: str,
        idle_timeout: float,
        connect_timeout: float = CONNECT_TIMEOUT,
        keep_alive: float = DEFAULT_UPSTREAM_KEEP_ALIVE,
    ):
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"upstream must be an http(s) origin, got {origin!r}")
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.host_header = parts.netloc.rpartition("@")[2]
        self.idle_timeout = idle_timeout
        self.connect_timeout = connect_timeout
        self.keep_alive = keep_alive
        self._tls = ssl.create_default_context() if parts.scheme == "https" else None
        self._idle: list[_Connection] = []

    def send(
        self,
        method: str,
        target: str,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        sink: ResponseSink,
    ) -> UpstreamExchange:
        """Send a request; its response goes to `sink`.

        On an idle keep-alive connection the request is written before this returns;
        otherwise a connection is opened first, in the background.
        """
        head = self._head(method, target, headers, body)
        exchange = UpstreamExchange(self, method, head, body, sink)
        connection = self._reusable_connection()
        if connection is not None:
            exchange.start(connection, reused=True)
        else:
            exchange.start_when_connected()
        return exchange

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
        except ssl.SSLCertVerificationError as error:
            raise UpstreamUntrusted(
                f"certificate not trusted ({error.verify_message}); "
                "for a private CA, set SSL_CERT_FILE to its PEM file"
            ) from None
        except ssl.SSLError as error:
            raise UpstreamUntrusted(
                f"TLS handshake failed ({error.reason or error}): "
                "does this server speak plain http?"
            ) from None
        except OSError as error:
            reason = error.strerror or str(error) or "connection refused"
            raise UpstreamUnreachable(reason) from None
        return connection

    def release(self, connection: _Connection) -> None:
        """Take back a connection whose exchange is over: keep it if it can carry another."""
        if connection.reusable and len(self._idle) < MAX_IDLE_CONNECTIONS:
            connection.idle_since = asyncio.get_running_loop().time()
            self._idle.append(connection)
        else:
            connection.abort()

    async def aclose(self) -> None:
        """Close the idle connections."""
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.abort()

    def _reusable_connection(self) -> _Connection | None:
        """An idle connection that can be trusted with a request, as httpcore decides it.

        Not one idle longer than `keep_alive` (servers close theirs after about 5 s, and a
        request written as they do is lost), and not one with bytes or an end waiting to be
        read: a response nobody asked for, or a close that has not been seen yet.
        """
        now = asyncio.get_running_loop().time()
        while self._idle:
            connection = self._idle.pop()
            if connection.closed:
                continue
            idle = now - connection.idle_since
            # A close or stray bytes that came since the last loop turn are not seen yet: look
            # (one syscall), but only past a short idle time, when servers close connections.
            if idle > self.keep_alive or (idle > PEEK_AFTER and connection.readable()):
                connection.abort()
                continue
            return connection
        return None

    def _head(
        self, method: str, target: str, headers: Iterable[tuple[str, str]], body: bytes
    ) -> bytes:
        lines = [f"{method} {target} HTTP/1.1\r\nhost: {self.host_header}\r\n"]
        lines.extend(f"{name}: {value}\r\n" for name, value in headers)
        if body or method in BODY_EXPECTED:
            lines.append(f"content-length: {len(body)}\r\n")
        lines.append("\r\n")
        return "".join(lines).encode("latin-1")


class UpstreamExchange:
    """One request on its way to the upstream, and the way to pause or drop its response."""

    def __init__(
        self, pool: UpstreamPool, method: str, head: bytes, body: bytes, sink: ResponseSink
    ):
        self.method = method
        self.sink = sink
        self._pool = pool
        self._head = head
        self._body = body
        self._connection: _Connection | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._reused = False
        self._paused = False
        self.done = False

    def cancel(self) -> None:
        """Drop the exchange: its connection is closed, which is what the upstream sees."""
        if self.done:
            return
        self.done = True
        if self._connecting is not None:
            self._connecting.cancel()
        if self._connection is not None:
            self._connection.abort()

    def pause_reading(self) -> None:
        """Stop reading the response (the client is behind); the idle timeout waits too."""
        if self.done:
            return  # the connection may already carry another exchange
        self._paused = True
        if self._connection is not None:
            self._connection.pause_reading()

    def resume_reading(self) -> None:
        if self.done:
            return
        self._paused = False
        if self._connection is not None:
            self._connection.resume_reading()

    # called by the pool and the connection

    def start(self, connection: _Connection, reused: bool) -> None:
        self._connection = connection
        self._reused = reused
        connection.send(self, self._head, self._body)
        if self._paused:
            connection.pause_reading()

    def start_when_connected(self) -> None:
        self._connecting = asyncio.ensure_future(self._open_connection())

    async def _open_connection(self) -> None:
        try:
            connection = await self._pool.connect()
        except UpstreamError as error:
            self._connecting = None
            self.done = True
            self.sink.response_failed(error)
            return
        self._connecting = None
        if self.done:
            connection.abort()
        else:
            self.start(connection, reused=False)

    def ended(self, connection: _Connection) -> None:
        self.done = True
        self._pool.release(connection)
        self.sink.response_end()

    def failed(self, error: UpstreamError, answered: bool) -> None:
        if self.done:
            return
        retry = isinstance(error, UpstreamBroken) and not isinstance(error, UpstreamUpgrade)
        if retry and self._reused and not answered and self.method in RETRYABLE:
            # The upstream closed this idle connection as the request went out. A GET may go
            # once more on a new connection, as browsers do; a POST never (see RETRYABLE).
            self._reused = False
            self._connection = None
            self.start_when_connected()
            return
        self.done = True
        self.sink.response_failed(error)


class _Connection(asyncio.Protocol):
    """One upstream connection, carrying one exchange at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop, idle_timeout: float):
        self._loop = loop
        self._idle_timeout = idle_timeout
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self.closed = False
        self._exchange: UpstreamExchange | None = None
        self._answered = False  # a byte of the current response has arrived
        self._head_only = False
        self._interim = False  # inside a 1xx response, which is skipped
        self._headers: list[tuple[str, str]] = []
        self._has_head = False
        self._until_close = False
        self._keep_alive = False
        self._paused = False
        self._last_activity = 0.0
        self._watchdog: asyncio.TimerHandle | None = None
        self.idle_since = 0.0  # when it went back to the pool

    def readable(self) -> bool:
        """Bytes or an end of stream are waiting on the socket (checked without reading)."""
        sock = self._transport.get_extra_info("socket") if self._transport else None
        if sock is None:
            return True
        try:
            ready, _, _ = select.select([sock.fileno()], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(ready)

    @property
    def reusable(self) -> bool:
        return self._exchange is None and self._keep_alive and not self.closed

    def send(self, exchange: UpstreamExchange, head: bytes, body: bytes) -> None:
        assert self._transport is not None and self._exchange is None
        self._exchange = exchange
        self._head_only = exchange.method == "HEAD"
        self._answered = self._interim = self._has_head = self._until_close = False
        self._keep_alive = False
        self.resume_reading()  # a pause belonged to the previous exchange
        self._transport.writelines((head, body) if body else (head,))
        self._last_activity = self._loop.time()
        self._watchdog = self._loop.call_later(self._idle_timeout, self._check_idle)

    def pause_reading(self) -> None:
        if not self._paused and self._transport is not None and not self.closed:
            self._paused = True
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        if self._paused and self._transport is not None and not self.closed:
            self._paused = False
            self._last_activity = self._loop.time()
            self._transport.resume_reading()

    def abort(self) -> None:
        self._exchange = None
        self._stop_watchdog()
        if self._transport is not None and not self.closed:
            self.closed = True
            self._transport.abort()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        disable_nagle(transport)

    def data_received(self, data: bytes) -> None:
        exchange = self._exchange
        if exchange is None:
            self.abort()  # bytes nobody asked for: the connection cannot be trusted again
            return
        self._answered = True
        self._last_activity = self._loop.time()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(UpstreamUpgrade("answered 101 Switching Protocols: not tunnelled"))
            return
        except httptools.HttpParserError as error:
            self._fail(UpstreamBroken(f"sent malformed HTTP ({error})"))
            return
        if self._exchange is exchange and self._has_head:
            exchange.sink.response_flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._stop_watchdog()
        if self._exchange is None:
            return
        if self._has_head and self._until_close and exc is None:
            self._end()  # a body delimited by the end of the connection
        elif exc is None:
            self._fail(UpstreamBroken("closed the connection before the response was complete"))
        else:
            self._fail(UpstreamBroken(f"broke off the connection ({type(exc).__name__})"))

    # httptools callbacks

    def on_message_begin(self) -> None:
        if self._exchange is None:
            # A second response in the same read as the first: the parser is now inside a
            # message nobody asked for, so the connection must never carry another request.
            self.abort()
            return
        self._headers = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.decode("latin-1").lower(), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        exchange = self._exchange
        if exchange is None:
            return
        status = self._parser.get_status_code()
        if status == 101:
            self._fail(UpstreamUpgrade("answered 101 Switching Protocols: not tunnelled"))
            return
        if 100 <= status < 200:
            self._interim = True  # 100 Continue and friends: the real response follows
            return
        self._has_head = True
        framed = False
        for name, value in self._headers:
            if name == "content-length" or (
                name == "transfer-encoding" and "chunked" in value.lower()
            ):
                framed = True
                break
        self._until_close = not framed and status not in BODILESS_STATUSES
        exchange.sink.response_head(status, tuple(self._headers))
        if self._head_only and self._exchange is exchange:
            self._end()  # a HEAD response has no body, whatever its headers say

    def on_body(self, body: bytes) -> None:
        if self._exchange is not None:
            self._exchange.sink.response_body(body)

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
        elif self._exchange is not None:
            self._keep_alive = self._parser.should_keep_alive() and not self._head_only
            self._end()

    # internals

    def _end(self) -> None:
        exchange, self._exchange = self._exchange, None
        self._stop_watchdog()
        if exchange is not None:
            exchange.ended(self)

    def _fail(self, error: UpstreamError) -> None:
        exchange = self._exchange
        self.abort()
        if exchange is not None:
            exchange.failed(error, self._answered)

    def _check_idle(self) -> None:
        self._watchdog = None
        if self._exchange is None:
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
