"""Turn one HTTP exchange's bytes into tap events.

`ExchangeTap` is fed what the proxy forwards (request head and body, response head, each
response chunk) and publishes `ExchangeOpened`, `ResponseStarted`, `MessageSeen` and
`ExchangeClosed` on the bus. It only reads copies: the proxy has already forwarded the bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import parse_qs, urlsplit

from mcp_tap.protocol.events import (
    Direction,
    ExchangeClosed,
    ExchangeOpened,
    Headers,
    MessageKind,
    MessageSeen,
    ResponseStarted,
    RpcMessage,
    StreamKind,
    header,
)
from mcp_tap.protocol.jsonrpc import classify_text
from mcp_tap.protocol.sse import SSEDecoder, SSEEvent, SSEPriming
from mcp_tap.tap.bus import TapBus

LEGACY_SESSION_PARAMS = ("session_id", "sessionId")  # Python SDK, TypeScript SDK


def media_type(content_type: str | None) -> str:
    """`Text/Event-Stream; charset=utf-8` -> `text/event-stream`."""
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def legacy_session_id(target: str) -> str | None:
    """The 2024-11-05 session id carried in an endpoint URL's query, if any."""
    if "?" not in target:
        return None  # the common case, and parsing costs more than the rest of a request
    query = parse_qs(urlsplit(target).query)
    for name in LEGACY_SESSION_PARAMS:
        if name in query:
            return query[name][0]
    return None


def response_stream_kind(
    request_method: str, request_headers: Headers, status: int, response_headers: Headers
) -> StreamKind | None:
    """Which kind of message stream a response body is, or None if it carries none."""
    encoding = header(response_headers, "content-encoding")
    if encoding and encoding.lower() != "identity":
        return None  # compressed bodies are forwarded untouched but not inspected
    kind = media_type(header(response_headers, "content-type"))
    if kind == "text/event-stream":
        if request_method == "GET" and not any(
            header(request_headers, name) for name in ("mcp-session-id", "mcp-protocol-version")
        ):
            # A streamable-HTTP GET stream comes after initialize, so it carries a session or
            # at least the negotiated version; the 2024-11-05 GET /sse comes before either.
            return StreamKind.LEGACY_SSE
        return StreamKind.GET_SSE if request_method == "GET" else StreamKind.POST_SSE
    if kind == "application/json" or (kind.endswith("+json") and status != 204):
        return StreamKind.JSON_RESPONSE
    return None


class ExchangeTap:
    """The inspection side of one HTTP exchange."""

    def __init__(
        self,
        bus: TapBus,
        exchange_id: int,
        method: str,
        target: str,
        headers: Headers,
    ) -> None:
        self.bus = bus
        self.exchange_id = exchange_id
        self.method = method
        self.target = target
        self.headers = headers
        self.session_id = header(headers, "mcp-session-id") or legacy_session_id(target)
        self.stream: StreamKind | None = None
        self._sse: SSEDecoder | None = None
        self._json_parts: list[bytes] = []
        self._bytes_out = 0

    def opened(self, body: bytes) -> None:
        """The request, with this body, was sent upstream (or failed to be)."""
        now = self.bus.now()
        self.bus.publish(
            ExchangeOpened(
                self.exchange_id, now, self.method, self.target, self.headers, self.session_id
            )
        )
        if body.strip():
            self._publish_messages(
                classify_text(body), now, Direction.CLIENT_TO_SERVER, StreamKind.REQUEST_BODY
            )

    def response_started(self, status: int, headers: Headers) -> None:
        """The upstream's status line and headers were forwarded to the client."""
        minted = header(headers, "mcp-session-id")
        if minted:
            self.session_id = minted
        self.stream = response_stream_kind(self.method, self.headers, status, headers)
        if self.stream in (StreamKind.POST_SSE, StreamKind.GET_SSE, StreamKind.LEGACY_SSE):
            self._sse = SSEDecoder()
        event = ResponseStarted(
            self.exchange_id, self.bus.now(), status, headers, self.stream, self.session_id
        )
        self.bus.publish(event)

    def response_chunk(self, chunk: bytes) -> None:
        """A chunk of the response body was forwarded to the client."""
        self._bytes_out += len(chunk)
        if self._sse is not None:
            self._sse_items(self._sse.feed(chunk))
        elif self.stream is StreamKind.JSON_RESPONSE:
            self._json_parts.append(chunk)

    def closed(self, reason: str) -> None:
        """The exchange ended; `reason` says how."""
        if self._sse is not None:
            self._sse_items(self._sse.close())
        elif self._json_parts:
            body = b"".join(self._json_parts)
            self._json_parts = []
            if body.strip():
                self._publish_messages(
                    classify_text(body),
                    self.bus.now(),
                    Direction.SERVER_TO_CLIENT,
                    StreamKind.JSON_RESPONSE,
                )
        event = ExchangeClosed(self.exchange_id, self.bus.now(), reason, self._bytes_out)
        self.bus.publish(event)

    def _sse_items(self, items: Sequence[object]) -> None:
        assert self.stream is not None
        for item in items:
            if isinstance(item, SSEEvent):
                now = self.bus.now()
                event_type = None if item.event == "message" else item.event
                if item.event == "endpoint":
                    endpoint_session = legacy_session_id(item.data)
                    if endpoint_session:
                        self.session_id = endpoint_session
                    messages = [RpcMessage(MessageKind.ENDPOINT, raw=item.data)]
                else:
                    messages = classify_text(item.data)
                self._publish_messages(
                    messages, now, Direction.SERVER_TO_CLIENT, self.stream, item.id, event_type
                )
            elif isinstance(item, SSEPriming):
                pass  # carries no message; its id shows up on the events that follow

    def _publish_messages(
        self,
        messages: list[RpcMessage],
        now: float,
        direction: Direction,
        stream: StreamKind,
        sse_id: str | None = None,
        sse_event: str | None = None,
    ) -> None:
        for message in messages:
            self.bus.publish(
                MessageSeen(
                    self.exchange_id,
                    now,
                    direction,
                    stream,
                    self.session_id,
                    message,
                    sse_id,
                    sse_event,
                )
            )
