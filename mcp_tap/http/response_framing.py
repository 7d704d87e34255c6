"""How the proxy's answers to its clients are framed on the wire, as bytes (no transport).

A response head says how its body ends (`Framing`): by its length, by chunks, by the end of
the connection (an HTTP/1.0 client), or not at all (HEAD, 204, 304, 1xx). `response_head`
writes the head for a request and decides that framing and whether the connection stays
open; `refusal` is a whole answer of the proxy's own to a client it is closing on.
"""

from __future__ import annotations

import enum
from http import HTTPStatus

from mcp_tap.http.request_reader import Request
from mcp_tap.protocol.events import Headers, header
from mcp_tap.protocol.jsonrpc import error_body

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
LAST_CHUNK = b"0\r\n\r\n"
INVALID_REQUEST_CODE = -32600  # JSON-RPC's code for a request that cannot be served


class Framing(enum.Enum):
    """How the end of a response body is marked."""

    LENGTH = "length"  # the head says how long the body is
    CHUNKED = "chunked"
    UNTIL_CLOSE = "until-close"  # an HTTP/1.0 client: the end of the connection ends the body
    NONE = "none"  # HEAD, 204, 304


def response_head(
    request: Request, status: int, headers: Headers, keep_alive: bool
) -> tuple[bytes, Framing, bool]:
    """The head answering `request`, how its body is framed, and whether to keep the connection.

    `keep_alive`: whether the connection could stay open as far as client and server go; an
    HTTP/1.0 client without a length can only be told where the body ends by closing.
    """
    lines = [f"HTTP/1.1 {status} {_reason(status)}\r\n"]
    lines.extend(f"{name}: {value}\r\n" for name, value in headers)
    if request.method == "HEAD" or status in (204, 304) or status < 200:
        framing = Framing.NONE
    elif header(headers, "content-length") is not None:
        framing = Framing.LENGTH
    elif request.http_1_0:
        framing = Framing.UNTIL_CLOSE
        keep_alive = False
    else:
        framing = Framing.CHUNKED
        lines.append("transfer-encoding: chunked\r\n")
    if not keep_alive:
        lines.append("connection: close\r\n")
    elif request.http_1_0:
        lines.append("connection: keep-alive\r\n")  # 1.0 closes unless told otherwise
    lines.append("\r\n")
    return "".join(lines).encode("latin-1"), framing, keep_alive


def refusal(status: int, detail: str) -> bytes:
    """A whole response that ends the connection: the proxy's own answer to a bad client.

    Its body is a JSON-RPC error without an id, saying `mcp-tap: <detail>`.
    """
    payload = error_body(None, INVALID_REQUEST_CODE, f"mcp-tap: {detail}")
    head = (
        f"HTTP/1.1 {status} {_reason(status)}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(payload)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("latin-1") + payload


_REASONS = {status.value: status.phrase for status in HTTPStatus}


def _reason(status: int) -> str:
    return _REASONS.get(status, "")
