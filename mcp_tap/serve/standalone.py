"""Streamable HTTP's standalone GET stream, offered when the recorded server used it to ask.

After `initialize` a client of the handshake era (2025-03-26 to 2025-11-25) may open a GET
stream for what the server sends outside any call's own stream. A recorded server that sent
a request there while a call was open (sampling, elicitation, roots, ping) is re-enacted on
the same kind of stream: the mock offers it, one a session, and sends those requests on it.
A recording with no such request keeps the GET declined with 405, which every client accepts.

A request due on the GET stream waits for the session's stream up to `--ask-timeout` (a
client opens it right after `initialize`, maybe after its first call has begun); a client
that opens none never gets it, as with the recorded server, and that is a finding.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from mcp_tap.http.front import ClientConnection
from mcp_tap.http.request_reader import Request
from mcp_tap.protocol.events import StreamKind, header
from mcp_tap.protocol.jsonrpc import error_body
from mcp_tap.serve.interactions import RecordedServer
from mcp_tap.serve.open_stream import OpenStream
from mcp_tap.serve.wire import INVALID_REQUEST, json_headers, respond_whole
from mcp_tap.tap.exchange import ExchangeTap

Aside = Callable[[], Awaitable[OpenStream | None]]
"""Where a call's request recorded on the GET stream goes: the session's stream, once open."""


def asks_on_get_stream(recorded: RecordedServer) -> bool:
    """Whether the recorded server sent a request to its client on a standalone GET stream."""
    return any(
        emission.is_ask and emission.stream is StreamKind.GET_SSE
        for interaction in recorded.interactions
        for emission in interaction.notifications
    )


class StandaloneStreams:
    """The open standalone GET streams of one mock, by session."""

    def __init__(self, offered: bool, timeout: float) -> None:
        self.offered = offered  # the recording has requests on a GET stream to re-enact
        self.timeout = timeout  # how long a request waits for its session's stream
        self.streams: dict[str, OpenStream] = {}
        self._opened: dict[str, asyncio.Event] = {}

    def wanted(self, request: Request) -> bool:
        """A GET this mock opens a stream for (or refuses as a stream): it offers them."""
        accept = (header(request.headers, "accept") or "").lower()
        return (
            self.offered
            and request.method == "GET"
            and "text/event-stream" in accept
            and header(request.headers, "mcp-session-id") is not None
        )

    def open(
        self, request: Request, client: ClientConnection, tap: ExchangeTap, sessions: set[str]
    ) -> None:
        """Answer a client's GET: the session's stream, or why not (404, 409)."""
        session = header(request.headers, "mcp-session-id") or ""
        if session not in sessions:
            _refuse(client, tap, 404, "Session not found")
            return
        if session in self.streams:
            _refuse(client, tap, 409, "Conflict: this session's GET stream is already open")
            return

        def closed() -> None:
            if self.streams.get(session) is stream:
                del self.streams[session]
                self._event(session).clear()

        stream = OpenStream(client, tap, closed, (("mcp-session-id", session),))
        self.streams[session] = stream
        self._event(session).set()

    def aside(self, session: str | None) -> Aside | None:
        """Where this session's calls send requests recorded on the GET stream; None: their own
        stream (no session, or a recording without such requests)."""
        if not self.offered or session is None:
            return None

        async def stream() -> OpenStream | None:
            try:
                await asyncio.wait_for(self._event(session).wait(), self.timeout)
            except TimeoutError:
                return None
            return self.streams.get(session)

        return stream

    def end(self, session: str) -> None:
        """The session ended (DELETE): end its stream."""
        stream = self.streams.get(session)
        if stream is not None:
            stream.end()
        self._opened.pop(session, None)

    def aclose(self) -> None:
        """The mock stops: end every stream."""
        for stream in list(self.streams.values()):
            stream.end()

    def _event(self, session: str) -> asyncio.Event:
        return self._opened.setdefault(session, asyncio.Event())


def _refuse(client: ClientConnection, tap: ExchangeTap, status: int, text: str) -> None:
    payload = error_body(None, INVALID_REQUEST, text)
    respond_whole(client, tap, status, json_headers(payload), payload)
