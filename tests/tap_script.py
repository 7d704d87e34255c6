"""Hand-built tap event sequences: what the proxy would publish, without a proxy.

`TapScript` writes the events of HTTP exchanges (opened, response started, messages,
closed) with a controllable clock, so tracker and view tests read like a wire transcript.
"""

from __future__ import annotations

from typing import Any

from mcp_tap.protocol.events import (
    Direction,
    ExchangeClosed,
    ExchangeOpened,
    Headers,
    MessageSeen,
    ResponseStarted,
    StreamKind,
    TapEvent,
)
from mcp_tap.protocol.jsonrpc import META_PROTOCOL_VERSION, classify_value

C2S, S2C = Direction.CLIENT_TO_SERVER, Direction.SERVER_TO_CLIENT
MODERN = "2026-07-28"


def request(
    id: Any,
    method: str = "tools/call",
    token: Any = None,
    version: str | None = None,
    **params: Any,
) -> dict[str, Any]:
    """A JSON-RPC request; `token` (when not None) goes in params._meta.progressToken."""
    meta: dict[str, Any] = {}
    if token is not None:
        meta["progressToken"] = token
    if version is not None:
        meta[META_PROTOCOL_VERSION] = version
    if meta:
        params["_meta"] = meta
    return {"jsonrpc": "2.0", "id": id, "method": method, "params": params}


def progress(token: Any, value: Any, total: Any = None, message: str | None = None) -> dict:
    """A notifications/progress message."""
    params: dict[str, Any] = {"progressToken": token, "progress": value}
    if total is not None:
        params["total"] = total
    if message is not None:
        params["message"] = message
    return {"jsonrpc": "2.0", "method": "notifications/progress", "params": params}


def result(id: Any, value: Any = None) -> dict[str, Any]:
    """A success response."""
    return {"jsonrpc": "2.0", "id": id, "result": value if value is not None else {}}


def error(id: Any, code: int = -32602, message: str = "bad params") -> dict[str, Any]:
    """An error response."""
    return {"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}


def cancelled(id: Any, reason: str | None = None) -> dict[str, Any]:
    """A notifications/cancelled message."""
    params: dict[str, Any] = {"requestId": id}
    if reason:
        params["reason"] = reason
    return {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": params}


class TapScript:
    """Builds a list of tap events; `sink` (if given) receives each one as it is made."""

    def __init__(self, session: str | None = "sess-1", sink: Any = None) -> None:
        self.session = session
        self.events: list[TapEvent] = []
        self.time = 0.0
        self._next_exchange = 0
        self._sink = sink

    def at(self, seconds: float) -> TapScript:
        """Move the clock (seconds since the tap started)."""
        self.time = seconds
        return self

    def emit(self, event: TapEvent) -> TapEvent:
        self.events.append(event)
        if self._sink is not None:
            self._sink(event)
        return event

    def post(
        self,
        body: dict[str, Any] | None,
        *,
        version_header: str | None = None,
        session: Any = ...,  # ...: the script's session
        method: str = "POST",
        headers: Headers = (),
    ) -> int:
        """A client's HTTP request carrying `body` (None: no body); returns its exchange id."""
        self._next_exchange += 1
        exchange = self._next_exchange
        sid: str | None = self.session if session is ... else session
        all_headers = headers
        if version_header:
            all_headers += (("mcp-protocol-version", version_header),)
        target = "/mcp"
        self.emit(ExchangeOpened(exchange, self.time, method, target, all_headers, sid))
        if body is not None:
            self.emit(
                MessageSeen(
                    exchange, self.time, C2S, StreamKind.REQUEST_BODY, sid, classify_value(body)
                )
            )
        return exchange

    def get(self, *, last_event_id: str | None = None, legacy: bool = False) -> int:
        """A GET opening the standalone stream (or resuming one, or the legacy SSE stream)."""
        headers: Headers = (("last-event-id", last_event_id),) if last_event_id else ()
        exchange = self.post(None, method="GET", headers=headers)
        kind = StreamKind.LEGACY_SSE if legacy else StreamKind.GET_SSE
        self.respond(exchange, kind)
        return exchange

    def respond(
        self, exchange: int, stream: StreamKind | None = StreamKind.POST_SSE, status: int = 200
    ) -> None:
        """The upstream's status line and headers."""
        self.emit(ResponseStarted(exchange, self.time, status, (), stream, self.session))

    def send(
        self,
        exchange: int,
        body: dict[str, Any],
        stream: StreamKind = StreamKind.POST_SSE,
        direction: Direction = S2C,
        session: Any = ...,  # ...: the script's session
    ) -> TapEvent:
        """A message the server sent on `exchange`'s response body."""
        sid: str | None = self.session if session is ... else session
        return self.emit(
            MessageSeen(exchange, self.time, direction, stream, sid, classify_value(body))
        )

    def close(self, exchange: int, reason: str = "complete") -> None:
        """The exchange ended."""
        self.emit(ExchangeClosed(exchange, self.time, reason))

    def call(self, id: Any, token: Any = None, **kwargs: Any) -> int:
        """POST a tools/call and start its SSE response; returns the exchange id."""
        exchange = self.post(request(id, token=token, name="download_file", **kwargs))
        self.respond(exchange)
        return exchange
