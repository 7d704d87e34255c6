"""The mock as a stdio server: what a host launches, answered from a recording.

`mcp-tap serve --stdio REC.yaml` reads newline-delimited JSON-RPC on stdin and answers on
stdout, exactly as a stdio MCP server does, with the same matching and the same replayed
progress as over HTTP (`MockServer.reply_to`). Requests run concurrently, as a real server's
do: each answer is a task that writes its notifications at their recorded offsets, then its
response, one whole line at a time. Nothing but protocol lines goes to stdout. The traffic is
tapped as one stdio session (`StdioTap`), so `--record` and the findings work unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from mcp_tap.protocol.events import MessageKind
from mcp_tap.protocol.jsonrpc import error_body
from mcp_tap.protocol.lines import LineDecoder, LongLine
from mcp_tap.serve.asks import AskContext
from mcp_tap.serve.inbound import Refused, read_message
from mcp_tap.serve.matching import Miss, miss_body
from mcp_tap.serve.pacing import play, wait_until
from mcp_tap.serve.replies import Replier, Reply
from mcp_tap.serve.wire import PARSE_ERROR, dumps
from mcp_tap.tap.stdio import StdioTap

MAX_LINE = 16 * 1024 * 1024  # a request longer than this is answered with a parse error


class StdioMock:
    """One stdio session of the mock: lines in from the host, answers out to it."""

    def __init__(self, mock: Replier, tap: StdioTap, write: Callable[[bytes], None]) -> None:
        self.mock = mock
        self.tap = tap
        self._write = write
        self._lines = LineDecoder(MAX_LINE)
        self.answers: set[asyncio.Task[None]] = set()

    def feed(self, data: bytes) -> None:
        """Bytes from the host; each complete line is answered."""
        self.tap.client_chunk(data)
        for line in self._lines.feed(data):
            self._line(line)

    async def aclose(self) -> None:
        """Stop the answers still being written."""
        for task in list(self.answers):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self.answers, return_exceptions=True)

    async def drain(self) -> None:
        """Wait until every answer has been written."""
        while self.answers:
            await asyncio.gather(*list(self.answers), return_exceptions=True)

    def _line(self, line: bytes | LongLine) -> None:
        if isinstance(line, LongLine):
            self._send(error_body(None, PARSE_ERROR, f"mcp-tap serve: a line over {MAX_LINE} B"))
            return
        if not line.strip():
            return
        message = read_message(line)
        if isinstance(message, Refused):
            if message.payload is not None:
                self._send(message.payload)
            return
        if message.kind is not MessageKind.REQUEST:
            self.mock.asks.resolve(message)  # a response may answer a request the mock sent
            return  # notifications and responses from the host need no answer
        reply = self.mock.reply_to(message)
        if isinstance(reply, Miss):
            exchange = self.tap.exchange_id
            self._send(self.mock.miss_answer(reply, message.id, exchange, None))
            return
        context = None
        if reply.interaction is not None:
            context = AskContext(reply.interaction, message.payload, self.tap.exchange_id, None)
        task = asyncio.get_running_loop().create_task(self._answer(reply, context))
        self.answers.add(task)
        task.add_done_callback(self.answers.discard)

    async def _answer(self, reply: Reply, context: AskContext | None) -> None:
        played = await play(reply, self.mock.speed, self, self.mock.asks, context)
        offset, response = reply.response
        await wait_until(played.start, offset, self.mock.speed, self)
        if played.miss is not None:
            self.mock.missed_late(played.miss)
            response = miss_body(played.miss, response.get("id"))
        self._send(dumps(response))

    # -- pacing.Outlet: a line is written at once --

    def send(self, message: dict[str, Any]) -> None:
        self._send(dumps(message))

    def flush(self) -> None:
        pass

    async def ready(self) -> None:
        pass

    def _send(self, line: bytes) -> None:
        data = line + b"\n"
        self._write(data)
        self.tap.server_chunk(data)


async def serve_stdio(mock: Replier, tap: StdioTap, stop: asyncio.Event | None = None) -> None:
    """Answer this process's stdin on its stdout until the host closes stdin (or `stop`).

    stdin is read by a thread with plain blocking reads, so a pipe, a terminal and a file all
    work (an event loop can poll only the first two); answers are whole lines, written at once.
    """
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[bytes] = asyncio.Queue()
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()

    def read_stdin() -> None:
        while True:
            try:
                data = os.read(stdin, 65536)
            except OSError:
                data = b""
            loop.call_soon_threadsafe(chunks.put_nowait, data)
            if not data:
                return

    def write(data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(stdout, view) :]

    threading.Thread(target=read_stdin, name="mcp-tap-stdin", daemon=True).start()
    session = StdioMock(mock, tap, write)
    tap.opened()
    ended = stop or asyncio.Event()
    try:
        while not ended.is_set():
            read = asyncio.ensure_future(chunks.get())
            waiter = asyncio.ensure_future(ended.wait())
            done, _ = await asyncio.wait({read, waiter}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if read not in done:
                read.cancel()
                break
            data = read.result()
            if not data:
                break  # the host closed stdin: finish what was asked, then end
            session.feed(data)
        await session.drain()
    finally:
        await session.aclose()
        tap.client_closed()
        tap.closed("host-closed")
