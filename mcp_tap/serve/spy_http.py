"""Spy mode's HTTP upstream: a miss sent to a real MCP server at a URL (`--upstream`).

The proxy's own upstream client carries it. A 2026-07-28 request is self-contained and goes
as it is; a handshake client's session is the mock's, so the upstream opens a session of its
own once (with the recorded `initialize`) and sends the misses in it.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

from mcp_tap.http.upstream import UpstreamPool
from mcp_tap.http.upstream_connection import UpstreamError
from mcp_tap.protocol.events import Headers, StreamKind, header
from mcp_tap.protocol.secrets import redact_url
from mcp_tap.protocol.sse import SSEDecoder, SSEEvent
from mcp_tap.serve.spy_wire import (
    CLIENT_VERSION_HEADER,
    NOT_FORWARDED,
    Forwarded,
    SpyError,
    handshake,
    payloads,
)


class _Collected:
    """A `ResponseSink` keeping one whole response."""

    def __init__(self) -> None:
        self.status = 0
        self.headers: Headers = ()
        self.body = bytearray()
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def response_head(self, status: int, headers: Headers) -> None:
        self.status, self.headers = status, headers

    def response_body(self, chunk: bytes) -> None:
        self.body.extend(chunk)

    def response_flush(self) -> None:
        pass

    def response_end(self) -> None:
        if not self.done.done():
            self.done.set_result(None)

    def response_failed(self, error: UpstreamError) -> None:
        if not self.done.done():
            self.done.set_exception(SpyError(str(error)))


class HttpUpstream:
    """A real MCP server reached over Streamable HTTP (a `spy.Upstream`)."""

    stdio = False

    def __init__(self, url: str, initialize: dict[str, Any] | None, timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"--upstream must be an http(s) URL, got {url!r}")
        self.url = url
        self.label = redact_url(url)  # printed, and in misses' reasons: no secret
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.timeout = timeout
        self._initialize = initialize  # the recorded one, when the recording has it
        self._pool: UpstreamPool | None = None
        self._session: str | None = None
        self._opening = asyncio.Lock()

    async def send(
        self, message: dict[str, Any], version: str | None, headers: Headers = ()
    ) -> Forwarded:
        """`message` (with the spy's own id) to the server, and what it answered."""
        if self._pool is None:
            self._pool = UpstreamPool(self.url, self.timeout)
        if version != "2026-07-28":
            await self._open_session(version)
        return await self._post(message, version, self._session, headers)

    async def aclose(self) -> None:
        """Nothing to close: the pool's idle connections end with the loop."""

    async def _open_session(self, version: str | None) -> None:
        async with self._opening:
            if self._session is not None:
                return
            initialize, done = handshake(self._initialize, version)
            opened = await self._post(initialize, version, None)
            self._session = opened.session
            await self._post(done, version, self._session)

    async def _post(
        self,
        message: dict[str, Any],
        version: str | None,
        session: str | None,
        client_headers: Headers = (),
    ) -> Forwarded:
        assert self._pool is not None
        body = json.dumps(message).encode("utf-8")
        headers = [(k, v) for k, v in client_headers if k.lower() not in NOT_FORWARDED]
        headers += [
            ("content-type", "application/json"),
            ("accept", "application/json, text/event-stream"),
        ]
        if version:
            headers.append((CLIENT_VERSION_HEADER, version))
        if session:
            headers.append(("mcp-session-id", session))
        sink = _Collected()
        exchange = self._pool.send("POST", self.target, headers, body, sink)
        try:
            await sink.done
        finally:
            exchange.cancel()
        kind = (header(sink.headers, "content-type") or "").lower()
        streamed = kind.startswith("text/event-stream")
        messages: list[dict[str, Any]] = []
        if streamed:
            decoder = SSEDecoder()
            for item in [*decoder.feed(bytes(sink.body)), *decoder.close()]:
                if isinstance(item, SSEEvent) and item.data.strip():
                    messages.extend(payloads(item.data))
        elif sink.body.strip():
            messages.extend(payloads(bytes(sink.body)))
        if sink.status >= 400 and not messages:
            raise SpyError(f"the upstream {self.label} answered HTTP {sink.status}")
        stream = StreamKind.POST_SSE if streamed else StreamKind.JSON_RESPONSE
        return Forwarded(messages, stream, header(sink.headers, "mcp-session-id") or session)
