"""A client's requests as they arrive: llhttp's callbacks, collected into a `Request` each.

`RequestReader` is what `httptools.HttpRequestParser` calls back while it parses the bytes one
client connection sends. It gathers the request line, the headers and the body, counts the
head and the body against their limits, and tells its connection (`RequestEvents`) when a
request begins, when its head is complete, when it grew too large and when it is whole. What
to do then (answer, refuse, time out, queue) is the connection's business, never the reader's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import httptools

from mcp_tap.protocol.events import Headers


@dataclass(slots=True)
class Request:
    """A complete client request."""

    method: str
    target: str  # path and query, as the client sent them
    headers: Headers  # names lower-cased, in the order received
    body: bytes
    too_large: bool = False  # the body passed the limit and was not kept
    keep_alive: bool = True
    http_1_0: bool = False
    # `http://host:port` when the request line named it (the absolute form a forward proxy
    # gets); a CONNECT's target is its `host:port` as sent
    origin: str | None = None


class RequestEvents(Protocol):
    """What a `RequestReader` tells its connection, from inside llhttp's callbacks."""

    def request_begun(self) -> None:
        """The first byte of a new request has been parsed."""

    def head_too_long(self) -> None:
        """The request line and headers together are over `max_header_bytes`."""

    def head_complete(self, headers: Headers) -> None:
        """The headers are all in (and within the limit); the body, if any, follows."""

    def body_too_large(self) -> None:
        """The body has passed `max_body`; what came of it so far is still held."""

    def request_complete(self) -> None:
        """The last byte of the request has been parsed."""


class RequestReader:
    """Parses one client connection's bytes, a request at a time (see the module docstring)."""

    def __init__(self, events: RequestEvents, max_header_bytes: int, max_body: int) -> None:
        self._events = events
        self._max_header_bytes = max_header_bytes
        self._max_body = max_body
        self._parser = httptools.HttpRequestParser(self)
        self.part: str | None = None  # "headers" or "body" while a request is incomplete
        self._head_bytes = 0  # read so far of a head that spans reads
        self._url = b""
        self._headers: list[tuple[str, str]] = []
        self._request_headers: Headers = ()  # all of them, once the last has arrived
        self._body: list[bytes] = []
        self._size = 0
        self._too_large = False

    def feed(self, data: bytes) -> None:
        """Parse `data`; raises what `HttpRequestParser.feed_data` raises (an upgrade, an error)."""
        self._parser.feed_data(data)

    def head_too_long_after(self, read: int) -> bool:
        """Count a read that ended inside the head; True once the head is over the limit."""
        self._head_bytes += read
        return self._head_bytes > self._max_header_bytes

    @property
    def method(self) -> bytes:
        """The method of the request being parsed, as sent."""
        return self._parser.get_method()

    def discard_body(self) -> None:
        """The body is over the limit: what is held of it goes, and the rest is not kept."""
        self._too_large = True
        self._body = []

    def take_request(self) -> Request:
        """The request parsed so far, as a `Request`; its body is handed over, not kept."""
        method = self._parser.get_method().decode("latin-1")
        target, origin = _target_and_origin(method, self._url)
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        self._body = []
        return Request(
            method,
            target,
            self._request_headers,
            body,
            too_large=self._too_large,
            keep_alive=self._parser.should_keep_alive(),
            http_1_0=self._parser.get_http_version() == "1.0",
            origin=origin,
        )

    # -- httptools callbacks --

    def on_message_begin(self) -> None:
        self._events.request_begun()
        self.part = "headers"
        self._head_bytes = 0
        self._url = b""
        self._headers = []
        self._request_headers = ()
        self._body = []
        self._size = 0
        self._too_large = False

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.decode("latin-1").lower(), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self.part = "body"
        head_size = len(self._url) + sum(len(n) + len(v) + 4 for n, v in self._headers)
        if head_size > self._max_header_bytes:
            self._events.head_too_long()
            return
        self._request_headers = tuple(self._headers)
        self._events.head_complete(self._request_headers)

    def on_body(self, body: bytes) -> None:
        if self._too_large:
            return
        self._size += len(body)
        if self._size > self._max_body:
            self._events.body_too_large()
        else:
            self._body.append(body)

    def on_message_complete(self) -> None:
        self.part = None
        self._events.request_complete()


def _target_and_origin(method: str, url: bytes) -> tuple[str, str | None]:
    """The path and query a request names, and its origin when the request line held one."""
    target = url.decode("latin-1").partition("#")[0]  # a fragment is the client's
    origin = None
    if method == "CONNECT":
        pass  # authority form, `host:port`
    elif not target.startswith("/") and target != "*":
        parsed = httptools.parse_url(url)  # absolute form: keep the path and query
        query = b"?" + parsed.query if parsed.query else b""
        target = ((parsed.path or b"/") + query).decode("latin-1")
        if parsed.schema and parsed.host:
            port = f":{parsed.port}" if parsed.port else ""
            origin = f"{parsed.schema.decode('latin-1').lower()}://"
            host = parsed.host.decode("latin-1")
            origin += (f"[{host}]" if ":" in host else host) + port
    return target, origin
