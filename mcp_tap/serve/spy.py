"""Spy mode: what the recording cannot answer goes to the real server, and may be learnt.

`mcp-tap serve REC.yaml --upstream URL` answers from the recording as usual; a request it
has no answer for is sent to the real MCP server, and the server's messages for it (its
progress, then its response) go back to the client. The real server is an `Upstream`: one
reached over HTTP (`spy_http.py`, `--upstream URL`) or one mcp-tap runs as a command and
talks to over stdio (`spy_stdio.py`, `--command CMD`); either serves the mock over HTTP and
over stdio alike. Each forwarded request carries an id of the spy's own, so the requests of
several clients never collide in the one upstream session.

With `--record-misses`, each forwarded call is appended to the first recording as one whole
interaction (its exchange opened, its request, what the server sent, its exchange closed),
in a single write to a file opened for appending: what the recording held is never
rewritten, and an interrupted run leaves only whole interactions. The call is also learnt:
the next identical request is answered from it, without the server.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

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
)
from mcp_tap.protocol.jsonrpc import classify_value
from mcp_tap.recording.reader import load_recording
from mcp_tap.recording.yaml_emit import emit_document
from mcp_tap.serve.interactions import Interaction, RecordedServer, recorded_server
from mcp_tap.serve.shaping import InteractionHook, shape_events
from mcp_tap.serve.spy_wire import Forwarded as Forwarded
from mcp_tap.serve.spy_wire import SpyError as SpyError

DEFAULT_UPSTREAM_TIMEOUT = 60.0  # seconds the real server has to answer a forwarded call
LEARNT_GAP = 1.0  # seconds between a recording's last event and what spy mode appends
STDIO_METHOD = "STDIO"  # a stdio exchange's "method", as `tap.stdio` records it


class Upstream(Protocol):
    """The real server misses go to."""

    @property
    def label(self) -> str:
        """Its URL or command line, for messages."""

    @property
    def target(self) -> str:
        """What a learnt exchange is recorded as reaching: a URL's path, a program's name."""

    @property
    def stdio(self) -> bool:
        """It is a command over stdio (learnt calls are recorded as stdio lines)."""

    async def send(
        self, message: dict[str, Any], version: str | None, headers: Headers = ()
    ) -> Forwarded:
        """Forward `message`; what the server sent for it, the response last."""

    async def aclose(self) -> None:
        """Let go of the server (stop a command)."""


@dataclass
class Spy:
    """Forwards misses to `upstream`; with `learn_to`, appends what it learns there."""

    upstream: Upstream
    recorded: RecordedServer
    learn_to: Path | None = None
    before_record: InteractionHook | None = None
    timeout: float = DEFAULT_UPSTREAM_TIMEOUT
    forwarded: list[str] = field(default_factory=list)  # labels of forwarded calls
    learnt: int = 0
    _next_exchange: int = 1
    _clock: float = 0.0  # recording time the appended events start at
    _started: float | None = None
    _ids: int = 0

    def __post_init__(self) -> None:
        if self.learn_to is not None:
            events = load_recording(self.learn_to).events
            self._next_exchange = 1 + max(
                (getattr(e, "exchange_id", 0) or 0 for e in events), default=0
            )
            self._clock = max((e.time for e in events), default=0.0) + LEARNT_GAP

    @property
    def label(self) -> str:
        """The upstream's URL or command line."""
        return self.upstream.label

    async def forward(
        self, request: dict[str, Any], version: str | None, headers: Headers = ()
    ) -> Forwarded:
        """Send `request` to the real server, with the client's MCP headers (`Mcp-Method`,
        `Mcp-Name`, `Authorization`...); SpyError when it gives no JSON-RPC answer."""
        if self._started is None:
            self._started = asyncio.get_running_loop().time()
        # An id of the spy's own: clients of one upstream session must not collide there.
        self._ids += 1
        own = f"mcp-tap-spy-{self._ids}"
        async with asyncio.timeout(self.timeout):
            answer = await self.upstream.send({**request, "id": own}, version, headers)
        if not answer.messages or not _answers(answer.messages[-1], own):
            method = request.get("method")
            raise SpyError(f"the upstream {self.label} sent no answer to {method}")
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
        """Let go of the upstream (a command is stopped)."""
        await self.upstream.aclose()

    def _events(self, request: dict[str, Any], answer: Forwarded, took: float) -> list[TapEvent]:
        exchange = self._next_exchange
        self._next_exchange += 1
        loop = asyncio.get_running_loop()
        start = self._clock + (loop.time() - (self._started or loop.time()))
        end = start + max(took, 0.0)
        stdio = self.upstream.stdio
        method = STDIO_METHOD if stdio else "POST"
        asked = StreamKind.STDIO if stdio else StreamKind.REQUEST_BODY
        events: list[TapEvent] = [
            ExchangeOpened(exchange, start, method, self.upstream.target, (), None),
            MessageSeen(
                exchange, start, Direction.CLIENT_TO_SERVER, asked, None, classify_value(request)
            ),
        ]
        if not stdio:
            events.append(ResponseStarted(exchange, end, 200, (), answer.stream, None))
        for message in answer.messages:
            seen = classify_value(message)
            if seen.kind is MessageKind.INVALID:
                continue
            events.append(
                MessageSeen(exchange, end, Direction.SERVER_TO_CLIENT, answer.stream, None, seen)
            )
        events.append(ExchangeClosed(exchange, end, "complete"))
        return events


def _answers(message: dict[str, Any], request_id: Any) -> bool:
    return ("result" in message or "error" in message) and message.get("id") == request_id
