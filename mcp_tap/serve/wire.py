"""What the mock writes, on any carrier: compact JSON, SSE events, JSON-RPC error codes, and a
whole HTTP answer, tapped."""

from __future__ import annotations

import json
from typing import Any

import orjson

from mcp_tap.http.front import ClientConnection
from mcp_tap.protocol.events import Headers
from mcp_tap.tap.exchange import ExchangeTap

INVALID_REQUEST, PARSE_ERROR = -32600, -32700
SSE_HEADERS: Headers = (
    ("content-type", "text/event-stream"),
    ("cache-control", "no-cache, no-transform"),
    ("x-accel-buffering", "no"),
)
Item = tuple[float, dict[str, Any]]  # (offset in seconds, message)


def dumps(value: Any) -> bytes:
    """Compact JSON; orjson unless a value needs the standard module (an int past 64 bits, a
    lone surrogate)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode()
    except UnicodeEncodeError:  # a lone surrogate (JSON's "\ud800"): only escaped is it UTF-8
        return json.dumps(value, separators=(",", ":")).encode()


def sse_event(message: dict[str, Any]) -> bytes:
    return b"event: message\ndata: " + dumps(message) + b"\n\n"


def respond_whole(
    client: ClientConnection, tap: ExchangeTap, status: int, headers: Headers, body: bytes
) -> None:
    """Answer on `client` at once with a whole response, and tap it as one exchange."""
    client.respond(status, headers, body)
    tap.response_started(status, headers)
    if body:
        tap.response_chunk(body)
    tap.closed("complete")


def json_headers(payload: bytes, extra: Headers = ()) -> Headers:
    """The headers of a whole JSON body."""
    return (
        ("content-type", "application/json"),
        ("content-length", str(len(payload))),
        *extra,
    )
