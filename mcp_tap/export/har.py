"""A recording as an HTTP Archive (HAR 1.2), for browsers' network panels and HTTP tools.

One entry per HTTP exchange, in the order the exchanges opened: the request's method, URL,
headers and body, the response's status, headers and body, and timings (`wait` until the
response head, `receive` until the exchange closed). A response that is an event stream has
its events twice: as the stream's text in `content.text`, and as a custom `_events` list of
`{time, id, event, data}` (`time` in seconds since the epoch, as Chrome's own
`_webSocketMessages`), which a tool can read without parsing SSE.

Bodies are rebuilt from the recorded messages (`bodies.py` says how, and what a recording
does not keep); each entry's `comment` says whether the rebuilt body has the size the
recording holds. Custom fields start with `_`, as the HAR spec asks.
"""

from __future__ import annotations

from datetime import datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from mcp_tap.analysis.origin import target_name
from mcp_tap.export.bodies import Body, declared_size, json_body, sse_blocks, sse_body
from mcp_tap.export.session import Exchange, Session
from mcp_tap.protocol.codec import event_to_dict
from mcp_tap.protocol.events import Headers, StreamKind, header

HAR_VERSION = "1.2"
SSE_STREAMS = (StreamKind.POST_SSE, StreamKind.GET_SSE, StreamKind.LEGACY_SSE)


def iso(moment: datetime) -> str:
    """ISO 8601 with milliseconds and an explicit offset, as HAR's examples write it."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_har(session: Session) -> dict[str, Any]:
    """The HAR document (a JSON-ready dict) for an analyzed recording."""
    origin = _origin(session.header.get("target"))
    entries = [
        _entry(session, exchange, origin)
        for exchange in sorted(session.exchanges.values(), key=lambda e: (e.start, e.exchange_id))
        if exchange.opened is not None
    ]
    version = str(session.header.get("mcp_tap_version", "unknown"))
    log: dict[str, Any] = {
        "version": HAR_VERSION,
        "creator": {"name": "mcp-tap", "version": version},
        "entries": entries,
        "comment": f"mcp-tap recording of {target_name(session.header)}, "
        f"started {iso(session.started)}; bodies rebuilt from recorded JSON-RPC messages",
    }
    return {"log": log}


def _origin(target: Any) -> str | None:
    """`http://host:port` of the recorded upstream, when the header names a URL."""
    if not isinstance(target, str):
        return None
    parts = urlsplit(target)
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return None


def _url(target: str, headers: Headers, origin: str | None) -> str:
    if target.startswith(("http://", "https://")):
        return target  # a forward proxy's absolute-form request
    if origin is None:
        origin = f"http://{header(headers, 'host') or 'localhost'}"
    return origin + (target if target.startswith("/") else "/" + target)


def _headers(headers: Headers) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in headers]


def _ms(seconds: float) -> float:
    return round(max(0.0, seconds) * 1000.0, 3)


def _entry(session: Session, exchange: Exchange, origin: str | None) -> dict[str, Any]:
    opened = exchange.opened
    assert opened is not None
    response, closed = exchange.response, exchange.closed
    url = _url(opened.target, opened.headers, opened.origin or origin)
    request_body = (
        json_body(exchange.sent, declared_size(opened.headers)) if exchange.sent else None
    )
    request: dict[str, Any] = {
        "method": opened.method,
        "url": url,
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": _headers(opened.headers),
        "queryString": [
            {"name": name, "value": value}
            for name, value in parse_qsl(urlsplit(url).query, keep_blank_values=True)
        ],
        "headersSize": -1,
        "bodySize": _request_size(opened.headers, request_body),
    }
    if request_body is not None:
        request["postData"] = {
            "mimeType": header(opened.headers, "content-type") or "",
            "text": request_body.text or "",
            "comment": request_body.note,
        }
    wait = (response.time - opened.time) if response else (exchange.end - opened.time)
    receive = (closed.time - response.time) if (response and closed) else 0.0
    timings = {
        "blocked": -1,
        "dns": -1,
        "connect": -1,
        "ssl": -1,
        "send": 0.0,
        "wait": _ms(wait),
        "receive": _ms(receive),
    }
    entry: dict[str, Any] = {
        "startedDateTime": iso(session.wall(opened.time)),
        "time": round(timings["wait"] + timings["receive"], 3),
        "request": request,
        "response": _response(session, exchange),
        "cache": {},
        "timings": timings,
        "connection": str(exchange.exchange_id),
        "_exchangeId": exchange.exchange_id,
        "_calls": exchange.calls,  # the numbers `mcp-tap show --call` takes
    }
    session_id = (response.session_id if response else None) or opened.session_id
    if session_id is not None:
        entry["_sessionId"] = session_id
    if closed is not None:
        entry["_closeReason"] = closed.reason
    if exchange.faults:
        entry["_faults"] = [event_to_dict(fault) for fault in exchange.faults]
    if exchange.findings:
        entry["_findings"] = [event_to_dict(finding) for finding in exchange.findings]
    stream = response.stream if response else None
    if stream in SSE_STREAMS:
        entry["_events"] = [
            {"time": round(session.epoch(b.time), 6), "id": b.id, "event": b.event, "data": b.data}
            for b in sse_blocks(exchange.received)
        ]
    return entry


def _request_size(headers: Headers, body: Body | None) -> int:
    length = header(headers, "content-length")
    if length is not None and length.strip().isdigit():
        return int(length)  # what crossed, compressed or not
    return body.size if body is not None else 0


def _response(session: Session, exchange: Exchange) -> dict[str, Any]:
    response, closed = exchange.response, exchange.closed
    if response is None:
        # never answered (upstream unreachable, client gone): HAR still wants a response
        reason = exchange.faults[0].detail if exchange.faults else "no response was recorded"
        return {
            "status": 0,
            "statusText": "",
            "httpVersion": "",
            "cookies": [],
            "headers": [],
            "content": {"size": 0, "mimeType": "x-unknown", "comment": reason},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
            "_error": reason,
        }
    forwarded = closed.bytes_to_client if closed is not None else None
    mime = header(response.headers, "content-type") or "x-unknown"
    compressed = header(response.headers, "content-encoding") not in (None, "identity")
    body: Body | None
    if response.stream in SSE_STREAMS:
        body = sse_body(exchange.received, None if compressed else forwarded)
    elif response.stream is StreamKind.JSON_RESPONSE:
        declared = declared_size(response.headers)
        if declared is None and not compressed:
            declared = forwarded
        body = json_body(exchange.received, declared)
    else:
        body = None
    content: dict[str, Any] = {"size": body.size if body else (forwarded or 0), "mimeType": mime}
    if body is not None and body.text is not None:
        content["text"] = body.text
        content["comment"] = body.note
    else:
        content["comment"] = body.note if body else "body not recorded: it carried no messages"
    if compressed and forwarded is not None and body is not None:
        content["compression"] = max(0, body.size - forwarded)
    try:
        status_text = HTTPStatus(response.status).phrase
    except ValueError:
        status_text = ""
    return {
        "status": response.status,
        "statusText": status_text,
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": _headers(response.headers),
        "content": content,
        "redirectURL": header(response.headers, "location") or "",
        "headersSize": -1,
        "bodySize": forwarded if forwarded is not None else -1,
    }
