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

from mcp_tap.http.front import ClientConnection
from mcp_tap.http.request_reader import Request
from mcp_tap.protocol.events import Headers, MessageKind, header
from mcp_tap.serve.asks import AskContext
from mcp_tap.serve.inbound import Refused, read_message
from mcp_tap.serve.matching import Miss, miss_body
from mcp_tap.serve.open_stream import OpenStream
from mcp_tap.serve.pacing import play, wait_until
from mcp_tap.serve.replies import Replier, Reply
from mcp_tap.serve.wire import dumps, respond_whole
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
        reply = self.mock.reply_to(message, scope=session)
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


class _LegacyStream(OpenStream):
    """One open `GET /sse`: where a session's answers are written, its `endpoint` first."""

    def __init__(
        self,
        sessions: LegacySseSessions,
        session: str,
        client: ClientConnection,
        tap: ExchangeTap,
    ) -> None:
        self.sessions, self.session = sessions, session
        self.tasks: set[asyncio.Task[None]] = set()
        super().__init__(client, tap, self._closed)
        endpoint = f"{ENDPOINT_PATH}?session_id={session}"
        self.write(f"event: endpoint\ndata: {endpoint}\n\n".encode())

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

    def _closed(self) -> None:
        self.sessions.streams.pop(self.session, None)
        self.sessions.mock.end_session(self.session)  # its place in the sequences goes too
        for task in self.tasks:
            task.cancel()
