"""One keep-alive connection to the upstream, and what it reports: `ResponseSink`, the errors.

`UpstreamConnection` is an asyncio Protocol feeding httptools' C parser. It writes a request
of the exchange that holds it (a `ConnectionUser`, the pool's `UpstreamExchange`), hands the
response to that exchange's `ResponseSink` from the parser's own callbacks, skips interim 1xx
responses, and watches for an upstream that stays silent longer than the idle timeout. It
carries one exchange at a time; whether it may carry another is `reusable`.
"""

from __future__ import annotations

import asyncio
import select
from typing import Protocol, cast

import httptools

from mcp_tap.http.serving import disable_nagle
from mcp_tap.protocol.events import Headers

BODILESS_STATUSES = frozenset({204, 304})


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


class ConnectionUser(Protocol):
    """The exchange a connection carries: what it sent, where the response goes."""

    method: str
    sink: ResponseSink

    def ended(self, connection: UpstreamConnection) -> None:
        """The response is complete; the connection may go back to the pool."""

    def failed(self, error: UpstreamError, answered: bool) -> None:
        """The exchange broke off; `answered`: a byte of the response had arrived."""


class UpstreamConnection(asyncio.Protocol):
    """One upstream connection, carrying one exchange at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop, idle_timeout: float):
        self._loop = loop
        self._idle_timeout = idle_timeout
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self.closed = False
        self._exchange: ConnectionUser | None = None
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

    def send(self, exchange: ConnectionUser, head: bytes, body: bytes) -> None:
        assert self._transport is not None and self._exchange is None
        self._exchange = exchange
        self._head_only = exchange.method == "HEAD"
        self._answered = self._interim = self._has_head = self._until_close = False
        self._keep_alive = False
        self.resume_reading()  # a pause belonged to the previous exchange
        self._transport.writelines((head, body) if body else (head,))
        self._last_activity = self._loop.time()
        if self._watchdog is None:  # one left from an earlier exchange waits out its time
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
        # The watchdog is left to run: on a kept-alive connection the next exchange reuses it
        # (a timer less to make and cancel per request); idle, it lapses when it fires.
        exchange, self._exchange = self._exchange, None
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
