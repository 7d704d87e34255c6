"""Rewrite the 2024-11-05 `endpoint` event so that a client's POSTs come back through the proxy.

An HTTP+SSE server names the URL for POSTs in the first event of its GET stream. A relative
URL already resolves against the proxy; an absolute one names the upstream, so its scheme,
host and port are replaced by the proxy's own, path and query kept exactly. Only the bytes up
to that first event are held; everything after it passes through untouched.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from mcp_tap.protocol.sse import SSEDecoder, SSEEvent, SSEPriming

LEGACY_SESSION_PARAMS = ("session_id", "sessionId")  # Python SDK, TypeScript SDK
MAX_HELD_BYTES = 64 * 1024  # a stream that names no endpoint this early is passed through as is


class EndpointRewriter:
    """Sans-IO filter for a legacy SSE stream: `feed(chunk) -> bytes to forward now`."""

    def __init__(self, proxy_origin: str) -> None:
        self._proxy = urlsplit(proxy_origin)
        self._decoder: SSEDecoder | None = SSEDecoder()
        self._held: list[bytes] = []
        self._held_size = 0

    @property
    def passing_through(self) -> bool:
        """True once the first event has been forwarded: later chunks are not looked at."""
        return self._decoder is None

    def feed(self, chunk: bytes) -> bytes:
        """Return the bytes that may be forwarded now (possibly none while holding)."""
        if self._decoder is None:
            return chunk
        self._held.append(chunk)
        self._held_size += len(chunk)
        for item in self._decoder.feed(chunk):
            if isinstance(item, SSEEvent):
                return self._release(item.data if item.event == "endpoint" else None)
            if isinstance(item, SSEPriming):
                return self._release(None)
        if self._held_size > MAX_HELD_BYTES:
            return self._release(None)
        return b""

    def flush(self) -> bytes:
        """End of stream: whatever is still held."""
        return self._release(None)

    def _release(self, endpoint: str | None) -> bytes:
        held = b"".join(self._held)
        self._held = []
        self._decoder = None
        if endpoint is None:
            return held
        rewritten = self.rewrite(endpoint)
        if rewritten == endpoint:
            return held
        return held.replace(endpoint.encode(), rewritten.encode(), 1)

    def rewrite(self, endpoint: str) -> str:
        """An absolute endpoint URL moved onto the proxy's origin; a relative one unchanged."""
        parts = urlsplit(endpoint)
        if not parts.scheme or not parts.netloc:
            return endpoint
        return urlunsplit(
            (self._proxy.scheme, self._proxy.netloc, parts.path, parts.query, parts.fragment)
        )
