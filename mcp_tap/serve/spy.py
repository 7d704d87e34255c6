"""Spy mode: what the recording cannot answer goes to the real server, and may be learnt.

`mcp-tap serve REC.yaml --upstream URL` answers from the recording as usual; a request it
has no answer for is sent to the real MCP server over HTTP (the proxy's own upstream client),
and the server's messages for it (its progress, then its response) go back to the client.
A 2026-07-28 request is self-contained and goes as it is; a handshake client's session is
the mock's, so the spy opens a session of its own upstream once (with the recorded
`initialize`) and sends the misses in it.

With `--record-misses`, each forwarded call is appended to the first recording as one whole
interaction (its exchange opened, its request, what the server sent, its exchange closed),
in a single write to a file opened for appending: what the recording held is never
rewritten, and an interrupted run leaves only whole interactions. The call is also learnt:
the next identical request is answered from it, without the server.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mcp_tap.http.upstream import UpstreamPool
from mcp_tap.http.upstream_connection import UpstreamError
from mcp_tap.protocol.codec import event_to_dict
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
    header,
)
from mcp_tap.protocol.jsonrpc import classify_text, classify_value
from mcp_tap.protocol.sse import SSEDecoder, SSEEvent
from mcp_tap.recording.reader import load_recording
from mcp_tap.recording.yaml_emit import emit_document
from mcp_tap.serve.interactions import Interaction, RecordedServer, recorded_server
from mcp_tap.serve.shaping import InteractionHook, shape_events

DEFAULT_UPSTREAM_TIMEOUT = 60.0  # seconds the real server has to answer a forwarded call
LEARNT_GAP = 1.0  # seconds between a recording's last event and what spy mode appends
CLIENT_VERSION_HEADER = "mcp-protocol-version"
# The client's headers the spy sets itself, or that belong to the client's connection
NOT_FORWARDED = frozenset(
    {
        "host",
        "content-length",
        "content-type",
        "accept",
        "accept-encoding",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "upgrade",
        "mcp-session-id",
        CLIENT_VERSION_HEADER,
    }
)


class SpyError(Exception):
    """The real server could not answer a forwarded request (one line for the client)."""


class _Collected:
    """A `ResponseSink` keeping one whole response."""

    def __init__(self) -> None:
        self.status = 0
        self.headers: Headers = ()
        self.body = bytearray()
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def response_head(self, status: int, headers: Headers) -> None:
        self.status, self.headers = status, headers

    def response_body(self, chunk: bytes) -> None:
        self.body.extend(chunk)

    def response_flush(self) -> None:
        pass

    def response_end(self) -> None:
        if not self.done.done():
            self.done.set_result(None)

    def response_failed(self, error: UpstreamError) -> None:
        if not self.done.done():
            self.done.set_exception(SpyError(str(error)))


@dataclass
class Forwarded:
    """What the real server sent for one forwarded request."""

    messages: list[dict[str, Any]]  # notifications first, the response last
    streamed: bool  # it answered with an event stream
    session: str | None = None


@dataclass
class Spy:
    """Forwards misses to `upstream`; with `learn_to`, appends what it learns there."""

    upstream: str
    recorded: RecordedServer
    learn_to: Path | None = None
    before_record: InteractionHook | None = None
    timeout: float = DEFAULT_UPSTREAM_TIMEOUT
    forwarded: list[str] = field(default_factory=list)  # labels of forwarded calls
    learnt: int = 0
    _pool: UpstreamPool | None = None
    _session: str | None = None
    _opening: asyncio.Lock | None = None
    _next_exchange: int = 1
    _clock: float = 0.0  # recording time the appended events start at
    _started: float = 0.0
    _ids: int = 0

    def __post_init__(self) -> None:
        parts = urlsplit(self.upstream)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"--upstream must be an http(s) URL, got {self.upstream!r}")
        if self.learn_to is not None:
            events = load_recording(self.learn_to).events
            self._next_exchange = 1 + max(
                (getattr(e, "exchange_id", 0) or 0 for e in events), default=0
            )
            self._clock = max((e.time for e in events), default=0.0) + LEARNT_GAP

    @property
    def path(self) -> str:
        return urlsplit(self.upstream).path or "/"

    async def forward(
        self, request: dict[str, Any], version: str | None, headers: Headers = ()
    ) -> Forwarded:
        """Send `request` to the real server, with the client's MCP headers (`Mcp-Method`,
        `Mcp-Name`, `Authorization`...); SpyError when it gives no JSON-RPC answer."""
        loop = asyncio.get_running_loop()
        if self._pool is None:
            self._pool = UpstreamPool(self.upstream, self.timeout)
            self._opening = asyncio.Lock()
            self._started = loop.time()
        stateless = version == "2026-07-28"
        if not stateless:
            await self._open_session(version)
        # An id of the spy's own: clients of one upstream session must not collide there.
        self._ids += 1
        own = f"mcp-tap-spy-{self._ids}"
        async with asyncio.timeout(self.timeout):
            message = {**request, "id": own}
            answer = await self._post(message, version, self._session, headers)
        if not answer.messages or not _answers(answer.messages[-1], own):
            method = request.get("method")
            raise SpyError(f"the upstream {self.upstream} sent no answer to {method}")
        answer.messages[-1] = {**answer.messages[-1], "id": request.get("id")}
        return answer

    def learn(self, request: dict[str, Any], answer: Forwarded, took: float) -> Interaction | None:
        """Append the call to the recording (whole, in one write); the interaction it is."""
        events = self._events(request, answer, took)
        if self.before_record is not None:
            events = shape_events(events, self.before_record)
        found = [i for i in recorded_server([("spy", events)]).interactions if i.response]
        if self.learn_to is None or not found:
            return found[0] if found else None
        text = "".join(emit_document(event_to_dict(event)) for event in events)
        fd = os.open(self.learn_to, os.O_WRONLY | os.O_APPEND)
        try:
            data = memoryview(text.encode("utf-8"))
            while data:
                data = data[os.write(fd, data) :]
        finally:
            os.close(fd)
        self.learnt += 1
        interaction = found[0]
        interaction.source = self.learn_to.name
        return interaction

    async def aclose(self) -> None:
        """Nothing to close: the pool's idle connections end with the loop."""

    # -- internals --

    async def _open_session(self, version: str | None) -> None:
        assert self._opening is not None
        async with self._opening:
            if self._session is not None:
                return
            recorded = self.recorded.first("initialize")
            initialize = dict(recorded.request) if recorded is not None else _initialize(version)
            initialize["id"] = "mcp-tap-spy-initialize"
            async with asyncio.timeout(self.timeout):
                opened = await self._post(initialize, version, None)
                self._session = opened.session
                done = {"jsonrpc": "2.0", "method": "notifications/initialized"}
                await self._post(done, version, self._session)

    async def _post(
        self,
        message: dict[str, Any],
        version: str | None,
        session: str | None,
        client_headers: Headers = (),
    ) -> Forwarded:
        assert self._pool is not None
        body = json.dumps(message).encode("utf-8")
        headers = [(k, v) for k, v in client_headers if k.lower() not in NOT_FORWARDED]
        headers += [
            ("content-type", "application/json"),
            ("accept", "application/json, text/event-stream"),
        ]
        if version:
            headers.append((CLIENT_VERSION_HEADER, version))
        if session:
            headers.append(("mcp-session-id", session))
        sink = _Collected()
        exchange = self._pool.send("POST", self.path, headers, body, sink)
        try:
            await sink.done
        finally:
            exchange.cancel()
        kind = (header(sink.headers, "content-type") or "").lower()
        streamed = kind.startswith("text/event-stream")
        messages: list[dict[str, Any]] = []
        if streamed:
            decoder = SSEDecoder()
            for item in [*decoder.feed(bytes(sink.body)), *decoder.close()]:
                if isinstance(item, SSEEvent) and item.data.strip():
                    messages.extend(_payloads(item.data))
        elif sink.body.strip():
            messages.extend(_payloads(bytes(sink.body)))
        if sink.status >= 400 and not messages:
            raise SpyError(f"the upstream {self.upstream} answered HTTP {sink.status}")
        return Forwarded(messages, streamed, header(sink.headers, "mcp-session-id") or session)

    def _events(self, request: dict[str, Any], answer: Forwarded, took: float) -> list[TapEvent]:
        exchange = self._next_exchange
        self._next_exchange += 1
        start = self._clock + (asyncio.get_running_loop().time() - self._started)
        end = start + max(took, 0.0)
        stream = StreamKind.POST_SSE if answer.streamed else StreamKind.JSON_RESPONSE
        events: list[TapEvent] = [
            ExchangeOpened(exchange, start, "POST", self.path, (), None),
            MessageSeen(
                exchange,
                start,
                Direction.CLIENT_TO_SERVER,
                StreamKind.REQUEST_BODY,
                None,
                classify_value(request),
            ),
            ResponseStarted(exchange, end, 200, (), stream, None),
        ]
        for message in answer.messages:
            seen = classify_value(message)
            if seen.kind is MessageKind.INVALID:
                continue
            events.append(
                MessageSeen(exchange, end, Direction.SERVER_TO_CLIENT, stream, None, seen)
            )
        events.append(ExchangeClosed(exchange, end, "complete"))
        return events


def _payloads(text: str | bytes) -> list[dict[str, Any]]:
    return [m.payload for m in classify_text(text) if isinstance(m.payload, dict)]


def _answers(message: dict[str, Any], request_id: Any) -> bool:
    return ("result" in message or "error" in message) and message.get("id") == request_id


def _initialize(version: str | None) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "method": "initialize",
        "params": {
            "protocolVersion": version or "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "mcp-tap-spy", "version": "1"},
        },
    }
