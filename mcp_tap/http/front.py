"""The proxy's listening side: an HTTP/1.1 server on httptools, one Protocol per client connection.

A transparent proxy wants three things a framework hides: to write a response head together
with the body bytes that came with it, to hear at once when a client leaves, and to stop
reading the upstream while the client cannot keep up. This server hands each complete request
to a `RequestHandler` and gives it the connection to answer on; the answer is written as the
handler produces it, never held back beyond the end of the current loop turn.

`ClientConnection` serves: it queues pipelined requests, times them, refuses what is over a
limit and writes the answers. Parsing is `request_reader.RequestReader`'s, and the bytes of a
response head `response_framing`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Protocol, cast

import httptools

from mcp_tap.http.guard import declared_length
from mcp_tap.http.idle import IdleTimer
from mcp_tap.http.limits import Limits
from mcp_tap.http.request_reader import Request, RequestReader
from mcp_tap.http.response_framing import CONTINUE, LAST_CHUNK, Framing, refusal, response_head
from mcp_tap.http.serving import bind_socket, disable_nagle, url_host
from mcp_tap.protocol.events import Headers, header

SHUTDOWN_GRACE = 0.1  # open streams must not hold Ctrl-C hostage: out in under 0.5 s


class RequestHandler(Protocol):
    def serve(self, request: Request, client: ClientConnection) -> None:
        """Answer `request` on `client`, now or later, ending with `end_response` or `abort`."""

    def fault(self, kind: str, detail: str) -> None:
        """The connection refused or failed a request on its own (400, 408, 431, 500, 503)."""


class ExchangeListener(Protocol):
    """What the handler of the exchange in progress hears from the client side."""

    def client_gone(self) -> None: ...
    def client_paused(self) -> None: ...
    def client_resumed(self) -> None: ...


class ClientConnection(asyncio.Protocol):
    """One client connection: parses requests, serves them one at a time, writes the answers."""

    def __init__(self, handler: RequestHandler, limits: Limits, open_connections: set[object]):
        self._handler = handler
        self._limits = limits
        self._open_connections = open_connections
        self._tail = b""  # what followed a CONNECT's head in the same read
        self._loop = asyncio.get_running_loop()
        self._reader = RequestReader(self, limits.max_header_bytes, limits.max_body)
        self._transport: asyncio.Transport | None = None
        self.listener: ExchangeListener | None = None  # set by the handler while it serves
        self._waiting: deque[Request] = deque()  # pipelined requests, served in order
        self._current: Request | None = None
        self._reading = True  # False once the rest of the input cannot be trusted
        self._closing = False  # close once the current response is done
        self._write_paused = False
        self._idle = IdleTimer(self._loop, limits.keep_alive_timeout, self._close)
        self._request_timer: asyncio.TimerHandle | None = None  # headers, then body, in time
        # the request being parsed
        self._continue_owed = False  # `Expect: 100-continue` while another response is going
        self._dispatched = False
        # the response being written
        self._framing = Framing.NONE
        self._head: bytes | None = None
        self._head_sent = False
        self._keep_alive = True

    # -- the response side, used by the handler --

    def start_response(self, status: int, headers: Headers) -> None:
        """Prepare the head; it leaves with the first body bytes, or at `flush()`."""
        request = self._current
        assert request is not None and self._head is None
        keep_alive = request.keep_alive and not self._closing
        self._head, self._framing, self._keep_alive = response_head(
            request, status, headers, keep_alive
        )

    def write_body(self, data: bytes) -> None:
        """Send body bytes (and the head, if it has not left yet)."""
        self._write(self._pieces(data))

    def flush(self) -> None:
        """Send the head now, if it is still waiting for body bytes."""
        if self._head is not None:
            self._write(self._pieces(b""))

    def end_response(self, data: bytes = b"") -> None:
        """Send the last body bytes and end the response; the next request is served next."""
        pieces = self._pieces(data)
        if self._framing is Framing.CHUNKED:
            pieces.append(LAST_CHUNK)
        self._write(pieces)
        self.listener = None
        self._current = None
        if not self._keep_alive or self._framing is Framing.UNTIL_CLOSE:
            self._close()
        elif self._waiting:
            self._loop.call_soon(self._serve_next)  # after this exchange's handler is done
        else:
            self._serve_next()

    def respond(self, status: int, headers: Headers, body: bytes) -> None:
        """A whole response at once (the proxy's own errors)."""
        self.start_response(status, headers)
        self.end_response(body)

    def abort(self) -> None:
        """Break the connection: how a client learns that a response was cut off."""
        self.listener = None
        self._current = None
        if self._transport is not None:
            self._transport.abort()

    @property
    def busy(self) -> bool:
        """A response is being written on this connection."""
        return self._current is not None

    @property
    def open_connections(self) -> set[object]:
        """The server's set of open client connections (what `--max-connections` counts)."""
        return self._open_connections

    def take_over(self) -> tuple[asyncio.Transport, bytes] | None:
        """Hand the connection to the handler of a CONNECT: its transport and any early bytes.

        This object stops serving it: no timer, no parsing, not counted as open. None if the
        client has already gone.
        """
        transport, self._transport = self._transport, None
        self._reading = False
        self.listener = None
        self._current = None
        self._waiting.clear()
        self._idle.cancel()
        self._cancel_request_timer()
        self._open_connections.discard(self)
        tail, self._tail = self._tail, b""
        if transport is None or transport.is_closing():
            return None
        return transport, tail

    def close_when_idle(self) -> None:
        """Close now if no response is being written, else once it is done."""
        self._closing = True
        if self._current is None:
            self._close()

    # -- asyncio.Protocol --

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        if len(self._open_connections) >= self._limits.max_connections:
            self._refuse(
                503,
                "too-many-connections",
                f"{len(self._open_connections)} client connections are open, the most "
                f"--max-connections allows",
            )
            return
        self._open_connections.add(self)
        disable_nagle(transport)
        self._idle.start()

    def data_received(self, data: bytes) -> None:
        if not self._reading:
            return
        try:
            self._reader.feed(data)
        except httptools.HttpParserUpgrade as upgrade:
            if self._reader.method == b"CONNECT" and not self._dispatched:
                # The connection is the handler's from here on (`take_over`): a tunnel, or TLS.
                self._reading = False
                offset = upgrade.args[0] if upgrade.args else len(data)
                self._tail = data[offset:] if isinstance(offset, int) else b""
                self._dispatch(self._reader.take_request())
                return
            # An Upgrade request: served as plain HTTP (the upstream never sees Upgrade, a
            # hop-by-hop header), and what follows on the connection is not HTTP, so stop.
            self._reading = False
            if not self._dispatched:
                self._dispatch(self._reader.take_request())
            self._closing = True
        except httptools.HttpParserCallbackError as error:
            # A bug of ours, raised inside a callback: the client still gets an answer.
            cause = error.__cause__ or error.__context__ or error
            self._refuse(500, "proxy-error", f"internal error: {type(cause).__name__}: {cause}")
        except httptools.HttpParserError as error:
            self._refuse(400, "request-malformed", f"invalid HTTP request ({error})")
        else:
            part = self._reader.part
            if part is None or not self._reading:
                return
            # still coming: llhttp holds them until they end
            if part == "headers" and self._reader.head_too_long_after(len(data)):
                self._refuse_long_head()
                return
            if self._request_timer is None:
                # Timed only once a request spans reads: most arrive whole and cost no timer.
                self._arm_request_timer(part)

    def eof_received(self) -> bool:
        """The client sent its last byte: a half-close, or the whole connection closing.

        TCP cannot tell them apart. Until an answer starts, a client that half-closed after
        its request still waits for it, so the connection stays open for writing. Once a
        response is streaming, closing is how a 2026-07-28 client cancels: the transport
        closes, and the upstream request with it.
        """
        self._reading = False
        self._closing = True
        if self._current is None and not self._waiting:
            return False  # nothing to answer
        return not self._head_sent

    def connection_lost(self, exc: Exception | None) -> None:
        self._open_connections.discard(self)
        self._idle.cancel()
        self._cancel_request_timer()
        self._transport = None
        listener, self.listener = self.listener, None
        self._current = None
        if listener is not None:
            listener.client_gone()

    def pause_writing(self) -> None:
        self._write_paused = True
        if self.listener is not None:
            self.listener.client_paused()

    def resume_writing(self) -> None:
        self._write_paused = False
        if self.listener is not None:
            self.listener.client_resumed()

    # -- request_reader.RequestEvents --

    def request_begun(self) -> None:
        self._idle.busy()
        self._continue_owed = False
        self._dispatched = False

    def head_too_long(self) -> None:
        self._refuse_long_head()  # which stops the head's timer too

    def head_complete(self, headers: Headers) -> None:
        self._cancel_request_timer()  # the body has its own time
        declared = declared_length(headers)
        if declared is not None and declared > self._limits.max_body:
            self._refuse_the_rest()
        elif (header(headers, "expect") or "").lower() == "100-continue":
            if self._current is None and not self._waiting and self._transport is not None:
                self._transport.write(CONTINUE)
            else:
                self._continue_owed = True  # never inside another response's body

    def body_too_large(self) -> None:
        self._refuse_the_rest()

    def request_complete(self) -> None:
        self._cancel_request_timer()
        self._continue_owed = False
        if self._reading and not self._dispatched and self._reader.method != b"CONNECT":
            self._dispatch(self._reader.take_request())  # a CONNECT is dispatched on its upgrade

    # -- internals --

    def _refuse_the_rest(self) -> None:
        """The body is over the limit: answer (413, by the handler) without reading it."""
        self._reader.discard_body()
        self._reading = False
        self._closing = True
        self._dispatch(self._reader.take_request())

    def _dispatch(self, request: Request) -> None:
        self._dispatched = True
        self._waiting.append(request)
        if self._current is None:
            self._serve_next()
        elif self._transport is not None:
            self._transport.pause_reading()  # one request waiting is enough

    def _serve_next(self) -> None:
        if self._current is not None or self._transport is None:
            return
        if not self._waiting:
            if self._closing:
                self._close()
            elif self._continue_owed:
                self._continue_owed = False  # the request that asked for it is next
                self._transport.write(CONTINUE)
                self._transport.resume_reading()
            else:
                if self._reader.part is None:
                    self._idle.start()
                if self._reading:
                    self._transport.resume_reading()
            return
        request = self._current = self._waiting.popleft()
        self._head = None
        self._head_sent = False
        try:
            self._handler.serve(request, self)
        except Exception as error:  # a bug of ours must still answer, and not hang the client
            self._fail_current(request, error)
            return
        if self.listener is not None and self._write_paused:
            self.listener.client_paused()

    def _pieces(self, data: bytes) -> list[bytes]:
        pieces = []
        if self._head is not None:
            pieces.append(self._head)
            self._head = None
            self._head_sent = True
        if data and self._framing is not Framing.NONE:
            if self._framing is Framing.CHUNKED:
                pieces.extend((b"%x\r\n" % len(data), data, b"\r\n"))
            else:
                pieces.append(data)
        return pieces

    def _write(self, pieces: list[bytes]) -> None:
        if self._transport is None or not pieces:
            return
        if len(pieces) == 1:
            self._transport.write(pieces[0])
        else:
            self._transport.writelines(pieces)

    def _close(self) -> None:
        self._reading = False
        self._cancel_request_timer()
        if self._transport is not None:
            self._transport.close()  # after what is buffered has been written

    def _refuse(self, status: int, kind: str, detail: str) -> None:
        """Stop reading, record a fault, and answer with a JSON-RPC error if the line is free.

        While another response is being written the answer cannot go in the middle of it: the
        connection then closes once that response is done.
        """
        self._reading = False
        self._closing = True
        self._cancel_request_timer()
        self._handler.fault(kind, f"client connection: {detail}")
        if self._current is not None or self._transport is None:
            return
        self._transport.write(refusal(status, detail))
        self._transport.close()

    def _refuse_long_head(self) -> None:
        limit = self._limits.max_header_bytes
        detail = f"request headers longer than --max-header-bytes ({limit} bytes)"
        self._refuse(431, "request-too-large", detail)

    def _fail_current(self, request: Request, error: Exception) -> None:
        """The handler raised while serving `request`: answer 500, or cut a started response."""
        what = f"{type(error).__name__}: {error}"
        detail = f"{request.method} {request.target}: internal error: {what}"
        self._handler.fault("proxy-error", detail)
        self.listener = None
        self._current = None
        self._reading = False
        self._closing = True
        if self._head_sent or self._transport is None:
            self.abort()  # part of a response left: only a broken connection says it is cut
            return
        self._transport.write(refusal(500, detail))
        self._transport.close()

    def _request_timed_out(self, part: str) -> None:
        self._request_timer = None
        if part == "headers":
            flag, limit = "--header-timeout", self._limits.header_timeout
        else:
            flag, limit = "--body-timeout", self._limits.body_timeout
        detail = f"request {part} not received within {flag} ({limit:g} s)"
        self._refuse(408, "request-timeout", detail)

    def _arm_request_timer(self, part: str) -> None:
        seconds = self._limits.header_timeout if part == "headers" else self._limits.body_timeout
        self._request_timer = self._loop.call_later(seconds, self._request_timed_out, part)

    def _cancel_request_timer(self) -> None:
        if self._request_timer is not None:
            self._request_timer.cancel()
            self._request_timer = None


@contextlib.asynccontextmanager
async def serving_requests(
    handler: RequestHandler,
    host: str,
    port: int,
    limits: Limits,
    on_closing: Callable[[int], None] | None = None,
) -> AsyncIterator[str]:
    """Serve `handler` on host:port (0: a free port); yield the base URL.

    On exit, idle connections close at once and the rest get SHUTDOWN_GRACE seconds to finish
    their responses before they are cut; `on_closing(n)` hears how many it waits for.
    """
    sock = bind_socket(host, port)
    bound_port = sock.getsockname()[1]
    connections: set[object] = set()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: ClientConnection(handler, limits, connections), sock=sock
    )
    try:
        yield f"http://{url_host(host)}:{bound_port}"
    finally:
        server.close()
        open_now = [cast(ClientConnection, c) for c in connections]
        for connection in open_now:
            connection.close_when_idle()
        busy = sum(1 for c in open_now if c.busy)
        if busy and on_closing is not None:
            on_closing(busy)
        deadline = loop.time() + SHUTDOWN_GRACE
        while any(c.busy for c in open_now) and loop.time() < deadline:
            await asyncio.sleep(0.02)
        for connection in open_now:
            connection.abort()
        await asyncio.sleep(0)  # let the aborted connections report their loss
