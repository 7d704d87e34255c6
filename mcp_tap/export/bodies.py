"""HTTP body text rebuilt from a recording's messages.

A recording keeps messages, not bytes: each JSON-RPC message as parsed JSON (key order
kept), text that was not JSON as it was received (`raw`), and for an event stream each
event's `id:` and `event:` with its data. What it does not keep is how the sender spaced
its JSON, the SSE line endings, and SSE blocks that carried no message (keep-alive comments,
`retry:` lines, the empty priming event of a resumable stream). So a body is rebuilt, and
the sizes the recording does hold decide between the spellings a sender could have used:
the request's or response's `Content-Length`, and for a stream the byte count the proxy
forwarded (`bytes_to_client`). `Body.exact` says whether the rebuilt text has that size.

JSON is written compact first (`{"a":1}`, what the Python and TypeScript SDKs send), then
`json.dumps`' spaced default, each with and without `\\u` escapes for non-ASCII; SSE with
CRLF (sse-starlette, the Python SDK) or LF (the TypeScript SDK). Numbers are written as
Python reads them back (`1e-05` for `0.00001`): a sender's own spelling of a float is lost.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mcp_tap.protocol.events import Headers, MessageKind, MessageSeen, header

# (item separator, key separator, ensure_ascii), most common first
JSON_STYLES: tuple[tuple[str, str, bool], ...] = (
    (",", ":", False),
    (",", ":", True),
    (", ", ": ", False),
    (", ", ": ", True),
)
LINE_ENDINGS = ("\r\n", "\n")


@dataclass(frozen=True, slots=True)
class Body:
    """A rebuilt body: its text, and whether its size is the one the recording holds."""

    text: str | None  # None: the recording holds nothing to rebuild it from
    exact: bool | None  # True: same size as recorded; False: not; None: no size to check
    note: str = ""  # for people: how it was rebuilt, what is missing

    @property
    def size(self) -> int:
        return len(self.text.encode("utf-8")) if self.text is not None else 0


@dataclass(frozen=True, slots=True)
class SSEBlock:
    """One event of a stream, as it was dispatched."""

    time: float
    id: str | None
    event: str
    data: str


def dump_json(value: Any, style: tuple[str, str, bool] = JSON_STYLES[0]) -> str:
    """`value` as JSON text in one of `JSON_STYLES`."""
    items, keys, ascii_only = style
    return json.dumps(value, separators=(items, keys), ensure_ascii=ascii_only)


def declared_size(headers: Headers) -> int | None:
    """The body size a head declares, when it is the size of the plain (uncompressed) text."""
    if header(headers, "content-encoding") not in (None, "identity"):
        return None  # the length counts compressed bytes; the recording holds decoded text
    value = header(headers, "content-length")
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


def _unrecorded(messages: Sequence[MessageSeen]) -> str | None:
    """Why a body cannot be rebuilt, when a message says it was not inspected or was cut."""
    for seen in messages:
        message = seen.message
        if message.raw is None and message.payload is None and message.kind is MessageKind.INVALID:
            return message.problem or "not inspected"
        if message.raw is not None and message.problem and "inspection limit" in message.problem:
            return message.problem
    return None


def _groups(messages: Sequence[MessageSeen]) -> list[list[MessageSeen]]:
    """Messages that travelled as one JSON text: a batch's elements share one group."""
    groups: list[list[MessageSeen]] = []
    for seen in messages:
        index = seen.message.batch_index
        if index is None or index == 0 or not groups or groups[-1][0].message.batch_index is None:
            groups.append([seen])
        else:
            groups[-1].append(seen)
    return groups


def _json_text(group: Sequence[MessageSeen], style: tuple[str, str, bool]) -> str:
    """The text of one JSON body or SSE data field."""
    first = group[0].message
    if first.raw is not None:
        return first.raw  # not JSON (or an endpoint URL): kept as received
    if first.batch_index is not None:
        return dump_json([seen.message.payload for seen in group], style)
    return dump_json(first.payload, style)


def json_body(messages: Sequence[MessageSeen], size: int | None) -> Body:
    """A request body or `application/json` response, from the messages it carried."""
    if not messages:
        if size == 0:
            return Body("", True, "empty body")
        return Body(None, None, "no message was recorded for this body")
    why = _unrecorded(messages)
    if why is not None:
        return Body(None, False, f"not recorded: {why}")
    groups = _groups(messages)
    candidates = ["".join(_json_text(g, style) for g in groups) for style in JSON_STYLES]
    return _choose(candidates, size, "rebuilt from the recorded JSON")


def sse_blocks(messages: Sequence[MessageSeen]) -> list[SSEBlock]:
    """The events of a stream, one per dispatched event (a batch is one event)."""
    return [
        SSEBlock(
            group[0].time,
            group[0].sse_id,
            group[0].sse_event or "message",
            _json_text(group, JSON_STYLES[0]),
        )
        for group in _groups(messages)
    ]


def sse_body(messages: Sequence[MessageSeen], size: int | None) -> Body:
    """A `text/event-stream` body, from its events; `size` is what was forwarded."""
    if not messages:
        exact = None if size is None else size == 0
        return Body("", exact, "no event was recorded on this stream")
    why = _unrecorded(messages)
    if why is not None:
        return Body(None, False, f"not recorded: {why}")
    groups = _groups(messages)
    candidates = [
        _sse_text(groups, style, ending) for ending in LINE_ENDINGS for style in JSON_STYLES
    ]
    body = _choose(candidates, size, "rebuilt from the recorded events", shortfall_ok=True)
    if body.exact is False and size is not None and body.text is not None:
        missing = size - body.size
        note = (
            f"rebuilt from the recorded events; the server sent {size} bytes, "
            f"{missing:+d} against this text: keep-alive comments, retry lines and "
            "empty priming events are not recorded"
        )
        return Body(body.text, False, note)
    return body


def _sse_text(groups: list[list[MessageSeen]], style: tuple[str, str, bool], end: str) -> str:
    parts: list[str] = []
    last_id: str | None = None
    for group in groups:
        first = group[0]
        # the recording keeps the id in force; a stream names it only when it changes
        if first.sse_id is not None and first.sse_id != last_id:
            parts.append(f"id: {first.sse_id}{end}")
            last_id = first.sse_id
        parts.append(f"event: {first.sse_event or 'message'}{end}")
        data = _json_text(group, style)
        parts.extend(f"data: {line}{end}" for line in data.split("\n"))
        parts.append(end)
    return "".join(parts)


def _choose(candidates: list[str], size: int | None, how: str, shortfall_ok: bool = False) -> Body:
    """The first spelling of the recorded size; else the first (the commonest) spelling.

    `shortfall_ok` (streams): a server may have sent blocks the recording does not keep, so
    the recorded size may only be larger; then the longest compact spelling within it wins.
    """
    if size is None:
        return Body(candidates[0], None, how)
    sizes = [len(text.encode("utf-8")) for text in candidates]
    for text, length in zip(candidates, sizes, strict=True):
        if length == size:
            return Body(text, True, f"{how}; {size} bytes, as recorded")
    best = 0
    if shortfall_ok:
        compact = range(0, len(candidates), len(JSON_STYLES))  # one per line ending
        within = [i for i in compact if sizes[i] <= size]
        best = max(within, key=lambda i: sizes[i]) if within else 0
    return Body(candidates[best], False, f"{how}; {sizes[best]} bytes, the recording says {size}")
