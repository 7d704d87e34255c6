"""The mock's 2024-11-05 HTTP+SSE transport: a GET stream that names where to POST.

A client opens `GET /sse`; the first event, `endpoint`, names the URL for its POSTs
(`/messages/?session_id=...`). Each POST is accepted with 202 at once, and its answer (the
recorded notifications, then the response) goes on the GET stream, at the recorded pace, as
the 2024-11-05 servers did. The answers themselves come from `MockServer.reply_to`, as on
every carrier; this module knows the mock only as a `replies.Replier`.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from mcp_tap.http.front import ClientConnection
from mcp_tap.http.request_reader import Request
from mcp_tap.protocol.events import Headers, MessageKind, header
from mcp_tap.serve.asks import AskContext
from mcp_tap.serve.inbound import Refused, read_message
from mcp_tap.serve.matching import Miss, miss_body
from mcp_tap.serve.pacing import play, wait_until
from mcp_tap.serve.replies import Replier, Reply
from mcp_tap.serve.wire import SSE_HEADERS, dumps, respond_whole
from mcp_tap.tap.exchange import ExchangeTap, legacy_session_id

ENDPOINT_PATH = "/messages/"
ACCEPTED: Headers = (("content-type", "text/plain"), ("content-length", "8"))


def opens_legacy_stream(request: Request) -> bool:
    """A GET for an event stream with neither a session nor a protocol version header.

    A Streamable HTTP client's GET stream comes after `initialize`, so it carries one of
    them; the 2024-11-05 `GET /sse` comes before either (the tap tells them apart the same way).
    """
    accept = (header(request.headers, "accept") or "").lower()
    return (
        request.method == "GET"
        and "text/event-stream" in accept
        and header(request.headers, "mcp-session-id") is None
        and header(request.headers, "mcp-protocol-version") is None
    )


class LegacySseSessions:
    """The open 2024-11-05 streams of one mock, by session id."""

    def __init__(self, mock: Replier) -> None:
        self.mock = mock
        self.streams: dict[str, _LegacyStream] = {}

    def session_of(self, request: Request) -> str | None:
        """The open session a POST names in its query, if any."""
        session = legacy_session_id(request.target)
        return session if session in self.streams else None

    def open(self, client: ClientConnection, tap: ExchangeTap) -> None:
        """Answer `GET /sse`: the stream, and its `endpoint` event."""
        session = uuid.uuid4().hex
        self.streams[session] = _LegacyStream(self, session, client, tap)

    def post(
        self, request: Request, client: ClientConnection, tap: ExchangeTap, session: str
    ) -> None:
        """Accept a POST with 202; its answer goes on the session's stream."""
        stream = self.streams[session]
        respond_whole(client, tap, 202, ACCEPTED, b"Accepted")
        message = read_message(request.body)
        if isinstance(message, Refused):
            if message.payload is not None:
                stream.send(message.payload)
            return
        if message.kind is not MessageKind.REQUEST:
            self.mock.asks.resolve(message)  # a response may answer a request the mock sent
            return  # notifications and responses from the client need no answer
        reply = self.mock.reply_to(message)
        if isinstance(reply, Miss):
            stream.send(self.mock.miss_answer(reply, message.id, tap.exchange_id, session))
            return
        context = None
        if reply.interaction is not None:
            context = AskContext(reply.interaction, message.payload, tap.exchange_id, session)
        stream.answer(reply, context)

    async def aclose(self) -> None:
        for stream in list(self.streams.values()):
            stream.end()


class _LegacyStream:
    """One open `GET /sse` (front.ExchangeListener): where a session's answers are written."""

    def __init__(
        self,
        sessions: LegacySseSessions,
        session: str,
        client: ClientConnection,
        tap: ExchangeTap,
    ) -> None:
        self.sessions, self.session, self.client, self.tap = sessions, session, client, tap
        self.tasks: set[asyncio.Task[None]] = set()
        self.writable = asyncio.Event()
        self.writable.set()
        self.open = True
        client.listener = self
        client.start_response(200, SSE_HEADERS)
        tap.response_started(200, SSE_HEADERS)
        endpoint = f"{ENDPOINT_PATH}?session_id={session}"
        self._write(f"event: endpoint\ndata: {endpoint}\n\n".encode())

    def send(self, message: bytes | dict[str, Any]) -> None:
        """One message on the stream, now."""
        data = message if isinstance(message, bytes) else dumps(message)
        self._write(b"event: message\ndata: " + data + b"\n\n")

    def answer(self, reply: Reply, context: AskContext | None) -> None:
        """The recorded notifications, asks and response, each at its offset."""
        task = asyncio.get_running_loop().create_task(self._paced(reply, context))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _paced(self, reply: Reply, context: AskContext | None) -> None:
        mock = self.sessions.mock
        played = await play(reply, mock.speed, self, mock.asks, context)  # never stopped here
        offset, response = reply.response
        await wait_until(played.start, offset, mock.speed, self)
        if played.miss is not None:
            mock.missed_late(played.miss)
            response = miss_body(played.miss, response.get("id"))
        if self.open:
            self.send(dumps(response))

    # -- pacing.Outlet: an event is written at once --

    async def put(self, message: dict[str, Any]) -> bool:
        self.send(message)
        return True

    def flush(self) -> None:
        pass

    async def ready(self) -> None:
        await self.writable.wait()

    def _write(self, data: bytes) -> None:
        if self.open:
            self.client.write_body(data)
            self.tap.response_chunk(data)

    def end(self) -> None:
        """The mock stops: end the stream cleanly."""
        if self.open:
            self._close("complete")
            self.client.end_response()

    def _close(self, reason: str) -> None:
        self.open = False
        self.sessions.streams.pop(self.session, None)
        for task in self.tasks:
            task.cancel()
        self.tap.closed(reason)

    # -- front.ExchangeListener --

    def client_gone(self) -> None:
        if self.open:
            self._close("client-disconnected")

    def client_paused(self) -> None:
        self.writable.clear()

    def client_resumed(self) -> None:
        self.writable.set()
