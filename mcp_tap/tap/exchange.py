"""Turn one HTTP exchange's bytes into tap events.

`ExchangeTap` is fed what the proxy forwards (request head and body, response head, each
response chunk) and publishes `ExchangeOpened`, `ResponseStarted`, `MessageSeen` and
`ExchangeClosed` on the bus. It only reads copies: the proxy has already forwarded the bytes.
A JSON body's messages are parsed when the bus delivers them; a stream's, as they come.

What it holds is bounded: a compressed body is decoded as it streams, and a message longer
than `max_message` is counted, not kept; it is published as an invalid message holding its
first kilobyte, so the recording shows it was cut and a finding says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import parse_qs, urlsplit

from mcp_tap.protocol.content_coding import ContentDecoder, UnsupportedEncoding
from mcp_tap.protocol.endpoint import LEGACY_SESSION_PARAMS
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
from mcp_tap.protocol.sse import KEPT_OF_A_CUT_EVENT, SSEDecoder, SSEEvent, SSEPriming
from mcp_tap.tap.bus import TapBus

DEFAULT_MAX_MESSAGE = 16 * 1024 * 1024  # one message held for inspection


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
        max_message: int = DEFAULT_MAX_MESSAGE,
        origin: str | None = None,
    ) -> None:
        self.bus = bus
        self.origin = origin
        self.exchange_id = exchange_id
        self.method = method
        self.target = target
        self.headers = headers
        self.session_id = header(headers, "mcp-session-id") or legacy_session_id(target)
        self.stream: StreamKind | None = None
        self._sse: SSEDecoder | None = None
        self.max_message = max_message
        self._json_parts: list[bytes] = []
        self._json_size = 0
        self._json_cut = False
        self._decoder: ContentDecoder | None = None  # a compressed body's, for our copy
        self._inspecting = True  # False once the body is known to be beyond inspection
        self._bytes_out = 0

    def opened(self, body: bytes) -> None:
        """The request, with this body, was sent upstream (or failed to be)."""
        now = self.bus.now()
        self.bus.publish(
            ExchangeOpened(
                self.exchange_id,
                now,
                self.method,
                self.target,
                self.headers,
                self.session_id,
                self.origin,
            )
        )
        if not body.strip():
            return
        encoding = header(self.headers, "content-encoding")
        if encoding is not None:
            body_or_problem = self._decode_whole(body, encoding)
            if isinstance(body_or_problem, str):
                self._not_inspected(body_or_problem, Direction.CLIENT_TO_SERVER)
                return
            body = body_or_problem
        self._publish_parsed(body, now, Direction.CLIENT_TO_SERVER, StreamKind.REQUEST_BODY)

    def response_started(self, status: int, headers: Headers) -> None:
        """The upstream's status line and headers were forwarded to the client."""
        minted = header(headers, "mcp-session-id")
        if minted:
            self.session_id = minted
        self.stream = response_stream_kind(self.method, self.headers, status, headers)
        if self.stream in (StreamKind.POST_SSE, StreamKind.GET_SSE, StreamKind.LEGACY_SSE):
            self._sse = SSEDecoder(max_event=self.max_message)
        event = ResponseStarted(
            self.exchange_id, self.bus.now(), status, headers, self.stream, self.session_id
        )
        self.bus.publish(event)
        encoding = header(headers, "content-encoding")
        if self.stream is not None and encoding is not None:
            try:
                self._decoder = ContentDecoder(encoding)
            except UnsupportedEncoding:
                problem = f"content-encoding {encoding!r}, which mcp-tap cannot decode"
                self._not_inspected(problem, Direction.SERVER_TO_CLIENT)

    def response_chunk(self, chunk: bytes) -> None:
        """A chunk of the response body was forwarded to the client."""
        self._bytes_out += len(chunk)
        if not self._inspecting:
            return
        if self._decoder is None:
            self._inspect(chunk)
            return
        for piece in self._decoder.feed(chunk):
            self._inspect(piece)
        self._check_decoder()

    def closed(self, reason: str) -> None:
        """The exchange ended; `reason` says how."""
        if self._decoder is not None and self._inspecting:
            for piece in self._decoder.flush():
                self._inspect(piece)
            self._check_decoder()
        if self._sse is not None:
            self._sse_items(self._sse.close())
        elif self._json_cut:
            self._publish_cut(self._json_parts[0], self._json_size)
        elif self._json_parts:
            body = b"".join(self._json_parts)
            if body.strip():
                self._publish_parsed(
                    body, self.bus.now(), Direction.SERVER_TO_CLIENT, StreamKind.JSON_RESPONSE
                )
        self._json_parts = []
        event = ExchangeClosed(self.exchange_id, self.bus.now(), reason, self._bytes_out)
        self.bus.publish(event)

    def _inspect(self, data: bytes) -> None:
        """Plain body bytes (decoded, if they came compressed) for the decoders."""
        if self._sse is not None:
            self._sse_items(self._sse.feed(data))
        elif self.stream is StreamKind.JSON_RESPONSE:
            self._json_size += len(data)
            if self._json_cut:
                return
            if self._json_size <= self.max_message:
                self._json_parts.append(data)
                return
            self._json_cut = True  # from here on only the start is kept
            start = b""
            for part in [*self._json_parts, data]:
                start += part[: KEPT_OF_A_CUT_EVENT - len(start)]
                if len(start) >= KEPT_OF_A_CUT_EVENT:
                    break
            self._json_parts = [start]

    def _check_decoder(self) -> None:
        if self._decoder is not None and self._decoder.failed:
            self._inspecting = False
            problem = f"a body that did not decode as {self._decoder.encoding}"
            self._not_inspected(problem, Direction.SERVER_TO_CLIENT)

    def _decode_whole(self, body: bytes, encoding: str) -> bytes | str:
        """A compressed request body, decoded (up to the limit), or why it was not."""
        try:
            decoder = ContentDecoder(encoding)
        except UnsupportedEncoding:
            return f"content-encoding {encoding!r}, which mcp-tap cannot decode"
        pieces: list[bytes] = []
        size = 0
        for piece in [*decoder.feed(body), *decoder.flush()]:
            size += len(piece)
            if size > self.max_message:
                return f"a body that decodes to more than {self.max_message} bytes"
            pieces.append(piece)
        if decoder.failed:
            return f"a body that did not decode as {decoder.encoding}"
        return b"".join(pieces)

    def _not_inspected(self, problem: str, direction: Direction) -> None:
        """Say that a body was forwarded untouched but could not be looked into."""
        self._inspecting = False
        message = RpcMessage(
            MessageKind.INVALID, problem=f"not inspected: {problem}; forwarded untouched"
        )
        stream = self.stream if direction is Direction.SERVER_TO_CLIENT else None
        self._publish_messages(
            [message], self.bus.now(), direction, stream or StreamKind.REQUEST_BODY
        )

    def _publish_cut(self, start: bytes, size: int) -> None:
        """A message over `max_message`: forwarded whole, recorded by its start."""
        assert self.stream is not None
        text = start[:KEPT_OF_A_CUT_EVENT].decode("utf-8", errors="replace")
        message = RpcMessage(MessageKind.INVALID, raw=text, problem=self._cut_problem(size))
        self._publish_messages([message], self.bus.now(), Direction.SERVER_TO_CLIENT, self.stream)

    def _cut_problem(self, size: int) -> str:
        return (
            f"a message of {size} bytes, over the inspection limit of {self.max_message} "
            f"(--max-inspect): forwarded whole, recorded as its first {KEPT_OF_A_CUT_EVENT}"
        )

    def _sse_items(self, items: Sequence[object]) -> None:
        assert self.stream is not None
        for item in items:
            if isinstance(item, SSEEvent):
                now = self.bus.now()
                event_type = None if item.event == "message" else item.event
                if item.cut_from:
                    text = item.data
                    messages = [
                        RpcMessage(
                            MessageKind.INVALID, raw=text, problem=self._cut_problem(item.cut_from)
                        )
                    ]
                elif item.event == "endpoint":
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

    def _publish_parsed(
        self, body: bytes, now: float, direction: Direction, stream: StreamKind
    ) -> None:
        """The messages of a JSON body, parsed only when the bus delivers them (`bus.Later`):
        with the judges, many exchanges together, rather than cold between two reads."""
        exchange_id, session = self.exchange_id, self.session_id  # as they are now

        def parsed() -> list[MessageSeen]:
            return [
                MessageSeen(exchange_id, now, direction, stream, session, message)
                for message in classify_text(body)
            ]

        self.bus.publish_later(parsed)

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
