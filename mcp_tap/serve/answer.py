"""One recorded answer being sent on a client's connection (the mock's HTTP side).

`Answer` replays what the recorded server sent for a request: over SSE each notification, and
each request the server sent the client, at its recorded offset (`pacing.play`, scaled by the
speed), then the response; over JSON the response alone. A request the recorded server sent
on its standalone GET stream goes on the session's GET stream (`standalone.py`). With
`--fault` rules each message is decided before it leaves (`faults.AnswerFaults`), and a rule
may end the answer early. A client that leaves stops it.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from mcp_tap.faults import ActionKind
from mcp_tap.http.front import ClientConnection
from mcp_tap.protocol.events import Headers
from mcp_tap.serve.asks import AskBroker, AskContext
from mcp_tap.serve.faults import AnswerFaults
from mcp_tap.serve.matching import Miss, miss_body
from mcp_tap.serve.pacing import play, wait_until
from mcp_tap.serve.replies import Reply
from mcp_tap.serve.standalone import Aside
from mcp_tap.serve.wire import SSE_HEADERS, dumps, json_headers, respond_whole, sse_event
from mcp_tap.tap.exchange import ExchangeTap


class AnswerHost(Protocol):
    """What an answer needs of the mock: its pace, its running answers, its asks, its faults."""

    @property
    def speed(self) -> float | None:
        """How much faster than recorded to send; None: every message at once."""

    @property
    def answers(self) -> set[asyncio.Task[None]]:
        """The answers still running, which the mock stops when it closes."""

    @property
    def asks(self) -> AskBroker:
        """The mock's requests to clients, waiting for their answers."""

    def missed_late(self, miss: Miss) -> None:
        """Count a miss found while a call was being answered (a --strict ask)."""

    def fault(self, kind: str, detail: str) -> None:
        """Report a fault of the mock's own."""


class Answer:
    """One response being replayed on a client connection (front.ExchangeListener).

    As a `pacing.Outlet` it queues SSE events and writes them when `pacing.play` flushes;
    under `--fault` rules it writes each message at once, so what came before a stop has left.
    """

    def __init__(
        self,
        mock: AnswerHost,
        client: ClientConnection,
        tap: ExchangeTap,
        sse: bool,
        extra: Headers,
        reply: Reply,
        context: AskContext | None,
        faults: AnswerFaults | None = None,
        aside: Aside | None = None,
    ):
        self.mock, self.client, self.tap = mock, client, tap
        self.sse, self.extra, self.reply, self.context = sse, extra, reply, context
        self.faults = faults
        self.aside = aside  # the session's GET stream, for asks recorded on one
        self.pending: list[bytes] = []
        self.writable = asyncio.Event()
        self.writable.set()
        client.listener = self
        task = asyncio.get_running_loop().create_task(self.run())
        mock.answers.add(task)
        task.add_done_callback(mock.answers.discard)
        self.task = task
        self.done = False

    async def run(self) -> None:
        speed = self.mock.speed
        offset, response = self.reply.response
        try:
            if not self.sse:  # a JSON answer has no room for notifications or asks
                await wait_until(asyncio.get_running_loop().time(), offset, speed, self)
                await self._last(response)
                return
            headers = (*SSE_HEADERS, *self.extra)
            self.client.start_response(200, headers)
            self.client.flush()
            self.tap.response_started(200, headers)
            played = await play(self.reply, speed, self, self.mock.asks, self.context, self.aside)
            if played.stopped:
                return  # a rule ended the answer (`_stop` did)
            await wait_until(played.start, offset, speed, self)
            if played.miss is not None:
                self.mock.missed_late(played.miss)
                response = miss_body(played.miss, response.get("id"))
            await self._last(response)
        except asyncio.CancelledError:
            if not self.done:
                self.done = True
                self.client.abort()
                self.tap.closed("client-disconnected")
            raise
        except Exception as error:  # a bug of ours: the client must not hang on it
            self.mock.fault("proxy-error", f"serve: {type(error).__name__}: {error}")
            if not self.done:
                self.done = True
                self.client.abort()
                self.tap.closed("upstream-error")

    async def _last(self, response: dict[str, Any]) -> None:
        """The response, as the rules say: the whole body over JSON, the last event over SSE."""
        frame = _sse_frame if self.sse else _same
        if self.faults is None:
            chunks = [frame(dumps(response))]
        else:
            shaped = await self.faults.shape(response, frame)
            if shaped.stop is not None:
                self._stop(shaped.stop)
                return
            chunks = shaped.chunks
        data = b"".join([*self.pending, *chunks])
        self.pending = []
        self.done = True
        if not self.sse:
            respond_whole(self.client, self.tap, 200, json_headers(data, self.extra), data)
            return
        self.client.end_response(data)
        self.tap.response_chunk(data)
        self.tap.closed("complete")

    def _stop(self, kind: ActionKind) -> None:
        """End the answer early: a clean end (drop-stream), a cut, or silence (hang)."""
        if kind is ActionKind.HANG:
            return  # the client keeps its open stream; its leaving closes the exchange
        self.done = True
        if kind is ActionKind.DROP_STREAM and self.sse:
            self.client.end_response()  # without the response: the client must ask again
        else:
            self.client.abort()
        self.tap.closed("fault-injected")

    # -- pacing.Outlet --

    async def put(self, message: dict[str, Any]) -> bool:
        if self.faults is None:
            self.pending.append(sse_event(message))
            return True
        shaped = await self.faults.shape(message, _sse_frame)
        self.pending.extend(shaped.chunks)
        self.flush()  # one write a message: no batching under rules
        if shaped.stop is not None:
            self._stop(shaped.stop)
            return False
        return True

    def flush(self) -> None:
        if self.pending:
            data = b"".join(self.pending)
            self.pending = []
            self.client.write_body(data)
            self.tap.response_chunk(data)

    async def ready(self) -> None:
        if not self.writable.is_set():
            await self.writable.wait()

    # -- front.ExchangeListener --

    def client_gone(self) -> None:
        if not self.done:
            self.done = True
            self.task.cancel()
            self.tap.closed("client-disconnected")

    def client_paused(self) -> None:
        self.writable.clear()

    def client_resumed(self) -> None:
        self.writable.set()


def _sse_frame(text: bytes) -> bytes:
    return b"event: message\ndata: " + text + b"\n\n"


def _same(text: bytes) -> bytes:
    return text
