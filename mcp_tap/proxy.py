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

import httpx2

from mcp_tap.bus import TapBus
from mcp_tap.endpoint import EndpointRewriter
from mcp_tap.events import Fault, Headers, StreamKind, header
from mcp_tap.guard import DEFAULT_MAX_BODY, HostGuard, declared_length
from mcp_tap.jsonrpc import error_body, request_id_for_error
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

# Longer than the SDKs' own 300 s SSE read timeout, so a quiet stream is never cut by us first.
DEFAULT_IDLE_TIMEOUT = 330.0
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


def upstream_client(idle_timeout: float = DEFAULT_IDLE_TIMEOUT) -> httpx2.AsyncClient:
    """One pooled keep-alive client for every upstream request."""
    return httpx2.AsyncClient(
        timeout=httpx2.Timeout(connect=10.0, read=idle_timeout, write=30.0, pool=None),
        limits=httpx2.Limits(max_connections=None, max_keepalive_connections=200),
        follow_redirects=False,  # a redirect is the upstream's answer; the client decides
        trust_env=False,  # never route loopback traffic through an environment proxy
    )


class TapProxy:
    """ASGI app forwarding every method, path and query to the target's origin."""

    def __init__(
        self,
        target: str,
        bus: TapBus,
        client: httpx2.AsyncClient | None = None,
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
        self._client = client
        self.guard = guard
        self.max_body = max_body
        self.idle_timeout = idle_timeout
        self._exchange_ids = itertools.count(1)

    @property
    def client(self) -> httpx2.AsyncClient:
        if self._client is None:
            self._client = upstream_client(self.idle_timeout)
        return self._client

    async def aclose(self) -> None:
        """Close the upstream connection pool."""
        if self._client is not None:
            await self._client.aclose()

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
        tap = ExchangeTap(self.bus, next(self._exchange_ids), method, target, headers, body)
        forwarding = asyncio.ensure_future(self._forward(method, target, headers, body, send, tap))
        watching = asyncio.ensure_future(_wait_for_disconnect(receive))
        try:
            await asyncio.wait({forwarding, watching}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not forwarding.done():
                forwarding.cancel()  # the client left: closing upstream is how 2026-07-28 cancels
                try:
                    await forwarding
                except asyncio.CancelledError:
                    pass
                tap.closed("client-disconnected")
            watching.cancel()
        forwarding.result()

    async def _forward(
        self, method: str, target: str, headers: Headers, body: bytes, send: Send, tap: ExchangeTap
    ) -> None:
        upstream_headers = [
            (name.encode("latin-1"), value.encode("latin-1"))
            for name, value in forwardable(headers, SET_BY_PROXY)
        ]
        request = httpx2.Request(
            method, self.origin + target, headers=upstream_headers, content=body
        )
        try:
            response = await self.client.send(request, stream=True)
        except httpx2.TimeoutException as error:
            await self._fail(send, tap, body, 504, "upstream-timeout", _describe(error))
            return
        except httpx2.HTTPError as error:
            await self._fail(send, tap, body, 502, "upstream-unreachable", _describe(error))
            return
        try:
            await self._relay(response, send, tap)
        finally:
            await response.aclose()

    async def _relay(self, response: httpx2.Response, send: Send, tap: ExchangeTap) -> None:
        headers: Headers = tuple(
            (name.decode("latin-1").lower(), value.decode("latin-1"))
            for name, value in response.headers.raw
        )
        headers = forwardable(headers)
        await send(
            {
                "type": "http.response.start",
                "status": response.status_code,
                "headers": [(n.encode("latin-1"), v.encode("latin-1")) for n, v in headers],
            }
        )
        tap.response_started(response.status_code, headers)
        rewriter = None
        if tap.stream is StreamKind.LEGACY_SSE:
            host = header(tap.headers, "host") or urlsplit(self.origin).netloc
            rewriter = EndpointRewriter(f"http://{host}")
        try:
            async for chunk in response.aiter_raw():
                out = rewriter.feed(chunk) if rewriter is not None else chunk
                if out:
                    await send({"type": "http.response.body", "body": out, "more_body": True})
                tap.response_chunk(chunk)
                if rewriter is not None and rewriter.passing_through:
                    rewriter = None
        except httpx2.HTTPError as error:
            # Break the client's connection too, as the upstream broke ours: ending the body
            # cleanly would tell the client that a cut-off stream was complete.
            if isinstance(error, httpx2.TimeoutException):
                kind, detail = "upstream-stalled", f"sent nothing for {self.idle_timeout:g} s"
            else:
                kind, detail = "upstream-reset", f"broke off the response ({type(error).__name__})"
            self._fault(tap, kind, f"upstream {self.target} {detail}")
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


async def _wait_for_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _describe(error: BaseException) -> str:
    if isinstance(error, httpx2.ConnectError):
        return f"is unreachable ({error or 'connection refused'})"
    if isinstance(error, httpx2.TimeoutException):
        return f"did not answer in time ({type(error).__name__})"
    return f"failed: {type(error).__name__}: {error or 'connection closed'}"
