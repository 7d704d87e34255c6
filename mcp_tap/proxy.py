"""The transparent forwarding proxy: an ASGI app that relays each request to the target.

Forward first, inspect second: every chunk is sent on to the client before a copy of it is
handed to the exchange's `ExchangeTap`, and nothing the tap or its subscribers do can hold a
chunk back. Response bodies are relayed as the upstream produces them, never buffered.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from mcp_tap.bus import TapBus
from mcp_tap.endpoint import EndpointRewriter
from mcp_tap.events import Fault, Headers, StreamKind, header
from mcp_tap.guard import DEFAULT_MAX_BODY, HostGuard, declared_length
from mcp_tap.jsonrpc import error_body, request_id_for_error
from mcp_tap.upstream import (
    DEFAULT_IDLE_TIMEOUT,
    UpstreamError,
    UpstreamPool,
    UpstreamResponse,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from mcp_tap.wiretap import ExchangeTap

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# RFC 9110 §7.6.1 connection-specific fields, plus the ones the proxy itself must set.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
SET_BY_PROXY = frozenset({"host", "content-length"})

UPSTREAM_ERROR_CODE = -32000


def forwardable(headers: Headers, extra_drop: frozenset[str] = frozenset()) -> Headers:
    """Drop hop-by-hop headers (and any the `Connection` header names) from a header list."""
    named: set[str] = set()
    for name, value in headers:
        if name == "connection":
            named.update(token.strip().lower() for token in value.split(","))
    return tuple(
        (name, value)
        for name, value in headers
        if name not in HOP_BY_HOP and name not in named and name not in extra_drop
    )


class TapProxy:
    """ASGI app forwarding every method, path and query to the target's origin."""

    def __init__(
        self,
        target: str,
        bus: TapBus,
        guard: HostGuard | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
    ):
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"target must be an http(s) URL, got {target!r}")
        self.target = target
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.bus = bus
        self.upstream = UpstreamPool(self.origin, idle_timeout)
        self.guard = guard
        self.max_body = max_body
        self.idle_timeout = idle_timeout
        self._exchange_ids = itertools.count(1)

    async def aclose(self) -> None:
        """Close the idle upstream connections."""
        await self.upstream.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._exchange(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _exchange(self, scope: Scope, receive: Receive, send: Send) -> None:
        method: str = scope["method"]
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        query: bytes = scope["query_string"]
        target = raw_path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
        headers: Headers = tuple(
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]
        )
        declared = declared_length(headers)
        too_large = declared is not None and declared > self.max_body
        body = None if too_large else await _read_body(receive, self.max_body)
        if too_large or (body is not None and len(body) > self.max_body):
            limit = f"request body larger than --max-body ({self.max_body} bytes)"
            await self._refuse(send, 413, "request-too-large", f"{method} {target}: {limit}")
            return
        if body is None:
            return  # the client left before its request was complete
        refusal = self.guard.refusal(headers) if self.guard is not None else None
        if refusal is not None:
            await self._refuse(send, 403, "request-refused", refusal, request_id_for_error(body))
            return
        tap = ExchangeTap(self.bus, next(self._exchange_ids), method, target, headers)
        departure = _Departure(receive)
        try:
            await self._forward(method, target, headers, body, send, tap)
        except asyncio.CancelledError:
            if not departure.happened:
                raise
            departure.exchange.uncancel()
            tap.closed("client-disconnected")
        finally:
            departure.stop_watching()

    async def _forward(
        self, method: str, target: str, headers: Headers, body: bytes, send: Send, tap: ExchangeTap
    ) -> None:
        failure: UpstreamError | None = None
        try:
            request = await self.upstream.send(
                method, target, forwardable(headers, SET_BY_PROXY), body
            )
        except UpstreamError as error:
            failure = error
        finally:
            # Inspect the request once it is on its way: then it costs the exchange no time.
            tap.opened(body)
        if failure is None:
            try:
                response = await request.response()
            except UpstreamError as error:
                failure = error
        if failure is not None:
            status, kind, detail = _refusal_for(failure)
            await self._fail(send, tap, body, status, kind, detail)
            return
        try:
            await self._relay(response, send, tap)
        finally:
            response.close()

    async def _relay(self, response: UpstreamResponse, send: Send, tap: ExchangeTap) -> None:
        headers = forwardable(response.headers)
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [(n.encode("latin-1"), v.encode("latin-1")) for n, v in headers],
            }
        )
        tap.response_started(response.status, headers)
        rewriter = None
        if tap.stream is StreamKind.LEGACY_SSE:
            host = header(tap.headers, "host") or urlsplit(self.origin).netloc
            rewriter = EndpointRewriter(f"http://{host}")
        try:
            while chunk := await response.read():
                out = rewriter.feed(chunk) if rewriter is not None else chunk
                if out:
                    await send({"type": "http.response.body", "body": out, "more_body": True})
                tap.response_chunk(chunk)
                if rewriter is not None and rewriter.passing_through:
                    rewriter = None
        except UpstreamError as error:
            # Break the client's connection too, as the upstream broke ours: ending the body
            # cleanly would tell the client that a cut-off stream was complete.
            kind = "upstream-stalled" if isinstance(error, UpstreamTimeout) else "upstream-reset"
            self._fault(tap, kind, f"upstream {self.target} {error}")
            tap.closed("upstream-error")
            return
        tail = rewriter.flush() if rewriter is not None else b""
        await send({"type": "http.response.body", "body": tail, "more_body": False})
        tap.closed("complete")

    async def _fail(
        self, send: Send, tap: ExchangeTap, body: bytes, status: int, kind: str, detail: str
    ) -> None:
        message = f"mcp-tap: upstream {self.target} {detail}"
        self._fault(tap, kind, message)
        payload = error_body(request_id_for_error(body), UPSTREAM_ERROR_CODE, message)
        headers: Headers = (
            ("content-type", "application/json"),
            ("content-length", str(len(payload))),
        )
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(n.encode(), v.encode()) for n, v in headers],
            }
        )
        tap.response_started(status, headers)
        await send({"type": "http.response.body", "body": payload, "more_body": False})
        tap.response_chunk(payload)
        tap.closed("upstream-error")

    async def _refuse(
        self, send: Send, status: int, kind: str, detail: str, request_id: str | int | None = None
    ) -> None:
        """Answer without forwarding (403, 413): a JSON-RPC error a person can read, and a fault."""
        self.bus.publish(Fault(self.bus.now(), None, kind, detail))
        payload = error_body(request_id, UPSTREAM_ERROR_CODE, f"mcp-tap: {detail}")
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload, "more_body": False})

    def _fault(self, tap: ExchangeTap, kind: str, detail: str) -> None:
        self.bus.publish(Fault(self.bus.now(), tap.exchange_id, kind, detail))


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body; None if the client left; stops early once past `limit`."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        parts.append(chunk)
        size += len(chunk)
        if size > limit or not message.get("more_body", False):
            return b"".join(parts)


def _refusal_for(error: UpstreamError) -> tuple[int, str, str]:
    """The status, fault kind and detail for an upstream that gave no response head."""
    if isinstance(error, UpstreamTimeout):
        return 504, "upstream-timeout", f"did not answer: {error}"
    if isinstance(error, UpstreamUnreachable):
        return 502, "upstream-unreachable", f"is unreachable ({error})"
    return 502, "upstream-reset", str(error)


class _Departure:
    """Cancels the exchange running in the current task if its client leaves.

    Closing the upstream request is how a 2026-07-28 client cancels, so the proxy must notice.
    Most exchanges end within a few milliseconds, so the task that listens for the client
    leaving starts only once an exchange has lasted WATCH_AFTER seconds.
    """

    WATCH_AFTER = 0.01

    def __init__(self, receive: Receive):
        exchange = asyncio.current_task()
        assert exchange is not None
        self.exchange = exchange
        self.happened = False
        self._receive = receive
        self._watcher: asyncio.Task[None] | None = None
        self._timer = asyncio.get_running_loop().call_later(self.WATCH_AFTER, self._start)

    def stop_watching(self) -> None:
        self._timer.cancel()
        if self._watcher is not None:
            self._watcher.cancel()

    def _start(self) -> None:
        self._watcher = asyncio.ensure_future(self._watch())

    async def _watch(self) -> None:
        while (await self._receive())["type"] != "http.disconnect":
            pass
        self.happened = True
        self.exchange.cancel()
