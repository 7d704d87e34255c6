"""The proxy's HTTP/1.1 client to its one upstream: a keep-alive pool over asyncio and llhttp.

A general client (httpx → httpcore → anyio → h11) spent about 1.5 ms of CPU on every small
request, more than the proxy spent on everything else. Here each connection is one asyncio
Protocol feeding httptools' C parser, and the response goes to a `ResponseSink` from the
parser's own callbacks: no task wakes up per chunk and no buffer sits in between. After each
read from the socket the sink is told to flush, so whatever arrived together leaves together.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable
from urllib.parse import urlsplit

from mcp_tap.http.limits import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_IDLE_UPSTREAM,
    DEFAULT_UPSTREAM_KEEP_ALIVE,
)
from mcp_tap.http.upstream_connection import (
    ResponseSink,
    UpstreamBroken,
    UpstreamConnection,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnreachable,
    UpstreamUntrusted,
    UpstreamUpgrade,
)

BODY_EXPECTED = frozenset({"POST", "PUT", "PATCH"})
# Requests that may go twice (RFC 9110 §9.2.2). A tools/call POST may not: once a byte of it
# has been written, the server may have run the tool.
RETRYABLE = frozenset({"GET", "HEAD", "OPTIONS"})
PEEK_AFTER = 0.5  # seconds idle before a pooled connection is checked for a pending close


class UpstreamPool:
    """Keep-alive connections to one origin; `send()` starts one exchange."""

    def __init__(
        self,
        origin: str,
        idle_timeout: float,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        keep_alive: float = DEFAULT_UPSTREAM_KEEP_ALIVE,
        max_idle: int = DEFAULT_MAX_IDLE_UPSTREAM,
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
        self.max_idle = max_idle
        self.keep_alive = keep_alive
        self._tls = ssl.create_default_context() if parts.scheme == "https" else None
        self._idle: list[UpstreamConnection] = []

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

    async def connect(self) -> UpstreamConnection:
        """A new connection to the upstream."""
        loop = asyncio.get_running_loop()
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(
                    lambda: UpstreamConnection(loop, self.idle_timeout),
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

    def release(self, connection: UpstreamConnection) -> None:
        """Take back a connection whose exchange is over: keep it if it can carry another."""
        if connection.reusable and len(self._idle) < self.max_idle:
            connection.idle_since = asyncio.get_running_loop().time()
            self._idle.append(connection)
        else:
            connection.abort()

    async def aclose(self) -> None:
        """Close the idle connections."""
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.abort()

    def _reusable_connection(self) -> UpstreamConnection | None:
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
        self._connection: UpstreamConnection | None = None
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

    def start(self, connection: UpstreamConnection, reused: bool) -> None:
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

    def ended(self, connection: UpstreamConnection) -> None:
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
