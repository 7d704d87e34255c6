"""One recorded answer being sent on a client's connection (the mock's HTTP side).

`Answer` replays what the recorded server sent for a request: over SSE each notification at
its recorded offset (scaled by the speed), then the response; over JSON the response alone.
With `--fault` rules each message is decided before it leaves (`faults.AnswerFaults`), and a
rule may end the answer early. A client that leaves stops it.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from mcp_tap.faults import ActionKind
from mcp_tap.http.front import ClientConnection
from mcp_tap.protocol.events import Headers
from mcp_tap.serve.faults import AnswerFaults
from mcp_tap.serve.wire import SSE_HEADERS, Item, dumps, json_headers, respond_whole, sse_event
from mcp_tap.tap.exchange import ExchangeTap


class AnswerHost(Protocol):
    """What an answer needs of the mock: its pace, its set of running answers, its faults."""

    @property
    def speed(self) -> float | None:
        """How much faster than recorded to send; None: every message at once."""

    @property
    def answers(self) -> set[asyncio.Task[None]]:
        """The answers still running, which the mock stops when it closes."""

    def fault(self, kind: str, detail: str) -> None:
        """Report a fault of the mock's own."""


class Answer:
    """One response being replayed on a client connection (front.ExchangeListener)."""

    def __init__(
        self,
        mock: AnswerHost,
        client: ClientConnection,
        tap: ExchangeTap,
        sse: bool,
        extra: Headers,
        items: list[Item],
        response: Item,
        faults: AnswerFaults | None = None,
    ):
        self.mock, self.client, self.tap = mock, client, tap
        self.faults = faults
        self.sse, self.extra, self.items = sse, extra, items
        self.response_offset, self.response = response
        self.writable = asyncio.Event()
        self.writable.set()
        client.listener = self
        task = asyncio.get_running_loop().create_task(self.run())
        mock.answers.add(task)
        task.add_done_callback(mock.answers.discard)
        self.task = task
        self.done = False

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        speed = self.mock.speed
        try:
            if self.faults is not None:
                await self._faulty(start, speed)
                return
            if not self.sse:
                await self._until(start, self.response_offset, speed)
                payload = dumps(self.response)
                self.done = True
                respond_whole(
                    self.client, self.tap, 200, json_headers(payload, self.extra), payload
                )
                return
            headers = (*SSE_HEADERS, *self.extra)
            self.client.start_response(200, headers)
            self.client.flush()
            self.tap.response_started(200, headers)
            pending: list[bytes] = []
            for offset, message in self.items:
                if speed is not None and pending and start + offset / speed > loop.time():
                    self._send(b"".join(pending))
                    pending = []
                await self._until(start, offset, speed)
                pending.append(sse_event(message))
            if speed is not None and pending:
                self._send(b"".join(pending))
                pending = []
            await self._until(start, self.response_offset, speed)
            last = b"".join(pending) + sse_event(self.response)
            self.done = True
            self.client.end_response(last)
            self.tap.response_chunk(last)
            self.tap.closed("complete")
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

    async def _faulty(self, start: float, speed: float | None) -> None:
        """The answer, each message as the rules say (one write a message: no batching)."""
        assert self.faults is not None
        items = [*self.items, (self.response_offset, self.response)]
        if self.sse:
            headers = (*SSE_HEADERS, *self.extra)
            self.client.start_response(200, headers)
            self.client.flush()
            self.tap.response_started(200, headers)
        for index, (offset, message) in enumerate(items):
            await self._until(start, offset, speed)
            frame = _sse_frame if self.sse else _same
            shaped = await self.faults.shape(message, frame)
            last = index == len(items) - 1
            if shaped.stop is not None:
                self._stop(shaped.stop)
                return
            data = b"".join(shaped.chunks)
            if not self.sse and last:
                self.done = True
                respond_whole(self.client, self.tap, 200, json_headers(data, self.extra), data)
            elif last:
                self.done = True
                self.client.end_response(data)
                self.tap.response_chunk(data)
                self.tap.closed("complete")
            elif data:
                self._send(data)

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

    async def _until(self, start: float, offset: float, speed: float | None) -> None:
        if speed is not None:
            delay = start + offset / speed - asyncio.get_running_loop().time()
            if delay > 0:
                await asyncio.sleep(delay)
        if not self.writable.is_set():
            await self.writable.wait()

    def _send(self, data: bytes) -> None:
        self.client.write_body(data)
        self.tap.response_chunk(data)

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
