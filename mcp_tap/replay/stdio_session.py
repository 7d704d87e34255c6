"""A stdio session seen as the HTTP exchanges a client would have made for the same messages.

A stdio recording is one exchange: every message of the session on one pair of pipes. The
messages are the same ones an HTTP client sends, only the carrier differs, so replay turns
the session into one POST per client line and hands that to `build_plan`. Each server
message goes to the exchange of the request it answers (a response by its id, a progress
notification by its token); what answers no request is left out, as a client sends nothing
for it.

The era follows the recording: a session that began with `initialize` is replayed in the
handshake era (the `initialize` POST mints a session that the later POSTs carry, with the
negotiated `MCP-Protocol-Version`); one without is replayed in the 2026-07-28 stateless
era, each POST with the routing headers its body implies.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from typing import Any

from mcp_tap.protocol.events import (
    Direction,
    ExchangeClosed,
    ExchangeOpened,
    Headers,
    MessageKind,
    MessageSeen,
    ResponseStarted,
    StreamKind,
    TapEvent,
)
from mcp_tap.protocol.jsonrpc import progress_params

SESSION = "stdio-session"  # the recorded session id a replay maps to the server's new one
STATELESS_VERSION = "2026-07-28"
HANDSHAKE_VERSION = "2025-06-18"  # when the recording does not say which one was agreed
PROTOCOL_VERSION_META = "io.modelcontextprotocol/protocolVersion"
NAME_PARAMS = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
_HEADER_SAFE = re.compile(r"[\x20-\x7e]*")


def is_stdio_session(events: Iterable[TapEvent]) -> bool:
    """True when the recording is of a stdio session (its messages travelled as lines)."""
    return any(isinstance(e, MessageSeen) and e.stream is StreamKind.STDIO for e in events)


def header_value(value: str) -> str:
    """A value as it can travel in a header: printable ASCII as is, anything else in the
    `=?base64?...?=` form the 2026-07-28 routing headers use."""
    if _HEADER_SAFE.fullmatch(value) and value == value.strip() and not value.startswith("=?"):
        return value
    return f"=?base64?{base64.b64encode(value.encode()).decode('ascii')}?="


def _client_lines(events: list[TapEvent]) -> list[list[MessageSeen]]:
    """The client's messages grouped by line: the elements of a batch stay together."""
    lines: list[list[MessageSeen]] = []
    for event in events:
        if isinstance(event, MessageSeen) and event.direction is Direction.CLIENT_TO_SERVER:
            index = event.message.batch_index
            if lines and index is not None and index > 0:
                lines[-1].append(event)
            else:
                lines.append([event])
    return lines


def _negotiated_version(events: list[TapEvent], initialize: MessageSeen) -> str:
    for event in events:
        if (
            isinstance(event, MessageSeen)
            and event.direction is Direction.SERVER_TO_CLIENT
            and event.message.kind is MessageKind.RESPONSE
            and event.message.id == initialize.message.id
        ):
            result = event.message.payload.get("result")
            if isinstance(result, dict) and isinstance(result.get("protocolVersion"), str):
                return str(result["protocolVersion"])
    params = initialize.message.payload.get("params")
    asked = params.get("protocolVersion") if isinstance(params, dict) else None
    return asked if isinstance(asked, str) else HANDSHAKE_VERSION


def _stateless_headers(message: Any) -> list[tuple[str, str]]:
    """`MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name`, from the message itself."""
    if not isinstance(message, dict) or not isinstance(message.get("method"), str):
        return [("mcp-protocol-version", STATELESS_VERSION)]
    params = message.get("params")
    meta = params.get("_meta") if isinstance(params, dict) else None
    version = meta.get(PROTOCOL_VERSION_META) if isinstance(meta, dict) else None
    headers = [
        ("mcp-protocol-version", version if isinstance(version, str) else STATELESS_VERSION),
        ("mcp-method", header_value(message["method"])),
    ]
    name_key = NAME_PARAMS.get(message["method"])
    name = params.get(name_key) if name_key and isinstance(params, dict) else None
    if isinstance(name, str):
        headers.append(("mcp-name", header_value(name)))
    return headers


def stdio_as_http(events: list[TapEvent], path: str = "/mcp") -> list[TapEvent]:
    """The session's events re-cut as one POST to `path` per client line (see the module)."""
    lines = _client_lines(events)
    initialize = next((m for line in lines for m in line if m.message.method == "initialize"), None)
    version = _negotiated_version(events, initialize) if initialize is not None else None
    exchange_of_line = {id(line[0]): number for number, line in enumerate(lines, start=1)}
    exchange_of_message = {id(m): exchange_of_line[id(line[0])] for line in lines for m in line}
    opened_at: dict[int, float] = {}
    answered_at: dict[int, float] = {}
    by_id: dict[Any, int] = {}
    by_token: dict[tuple[str, Any], int] = {}
    session: str | None = None  # the session the messages so far belong to
    minted: int | None = None  # the initialize exchange whose response has not started
    out: list[TapEvent] = []
    for event in events:
        if not isinstance(event, MessageSeen):
            continue
        message = event.message
        if event.direction is Direction.CLIENT_TO_SERVER:
            exchange = exchange_of_message[id(event)]
            if exchange not in opened_at:
                opened_at[exchange] = event.time
                headers: Headers = (
                    ("content-type", "application/json"),
                    ("accept", "application/json, text/event-stream"),
                )
                if version is None:
                    payload = message.payload if message.batch_index is None else None
                    headers += tuple(_stateless_headers(payload))
                elif session is not None:
                    headers += (("mcp-protocol-version", version), ("mcp-session-id", session))
                out.append(ExchangeOpened(exchange, event.time, "POST", path, headers, session))
                if message.method == "initialize" and version is not None:
                    session = SESSION
                    minted = exchange  # its response starts once its body is in
            if message.kind is MessageKind.REQUEST:
                by_id[message.id] = exchange
                if message.has_progress_token:
                    token = message.progress_token
                    by_token[(type(token).__name__, token)] = exchange
            owner = session if message.method != "initialize" else None
            out.append(
                MessageSeen(
                    exchange, event.time, event.direction, StreamKind.REQUEST_BODY, owner, message
                )
            )
            if minted == exchange:
                minted = None
                out.append(
                    ResponseStarted(exchange, event.time, 200, (), StreamKind.POST_SSE, session)
                )
            continue
        params = progress_params(message)
        if params is not None:
            token = params.get("progressToken")
            target = by_token.get((type(token).__name__, token))
        elif message.kind in (MessageKind.RESPONSE, MessageKind.ERROR):
            target = by_id.get(message.id)
            if target is not None:
                answered_at[target] = event.time
        else:
            target = None
        if target is not None:
            out.append(
                MessageSeen(
                    target, event.time, event.direction, StreamKind.POST_SSE, session, message
                )
            )
    for exchange, start in opened_at.items():
        out.append(ExchangeClosed(exchange, answered_at.get(exchange, start), "complete", 0))
    return out
