"""The mock as a stdio server: what a host launches, answered from a recording.

`mcp-tap serve --stdio REC.yaml` reads newline-delimited JSON-RPC on stdin and answers on
stdout, exactly as a stdio MCP server does, with the same matching and the same replayed
progress as over HTTP (`MockServer.reply_to`). Requests run concurrently, as a real server's
do: each answer is a task that plays its notifications and the requests it sent the host at
their recorded offsets (`pacing.play`), then its response, one whole line at a time. Nothing
but protocol lines goes to stdout. The traffic is tapped as one stdio session (`StdioTap`),
so `--record` and the findings work unchanged.
With `--fault` rules each request and each line of its answer is decided first (`faults.py`):
an injected error is written in the mock's place and not tapped as its answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from mcp_tap.faults import ActionKind, FaultPlan, MessageContext
from mcp_tap.protocol.events import Direction, MessageKind, RpcMessage
from mcp_tap.protocol.jsonrpc import error_body
from mcp_tap.protocol.lines import LineDecoder, LongLine
from mcp_tap.serve.asks import AskContext
from mcp_tap.serve.faults import AnswerFaults, publish_line_fault
from mcp_tap.serve.inbound import Refused, read_message
from mcp_tap.serve.matching import Miss, miss_body
from mcp_tap.serve.pacing import play, wait_until
from mcp_tap.serve.replies import Replier, Reply
from mcp_tap.serve.spy import Spy
from mcp_tap.serve.wire import PARSE_ERROR, dumps
from mcp_tap.tap.stdio import StdioTap

MAX_LINE = 16 * 1024 * 1024  # a request longer than this is answered with a parse error


class StdioMock:
    """One stdio session of the mock: lines in from the host, answers out to it."""

    def __init__(
        self,
        mock: Replier,
        tap: StdioTap,
        write: Callable[[bytes], None],
        faults: FaultPlan | None = None,
        close_stdout: Callable[[], None] | None = None,
    ) -> None:
        self.mock = mock
        self.tap = tap
        self._write = write
        self.faults = faults
        self._close_stdout = close_stdout
        self.stdout_closed = False
        self._lines = LineDecoder(MAX_LINE)
        self.scope = f"stdio-{uuid.uuid4().hex}"  # one client session: its place in sequences
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
        if self.faults is not None and self._faulted(message):
            return
        self._reply(message)

    def _faulted(self, message: RpcMessage) -> bool:
        """Perform a rule that hits this request; True when it was handled here."""
        assert self.faults is not None
        context = MessageContext(Direction.CLIENT_TO_SERVER, None, message)
        action = self.faults.decide(message, context)
        if action is None or action.kind in (ActionKind.TRUNCATE, ActionKind.CORRUPT):
            return False
        publish_line_fault(self.tap, action, message, Direction.CLIENT_TO_SERVER)
        if action.kind is ActionKind.ERROR:
            error = error_body(message.id, action.rule.code, action.rule.message)
            self._out(error + b"\n")  # not the mock's answer: not tapped
        elif action.kind is ActionKind.DELAY:
            asyncio.get_running_loop().call_later(action.seconds, self._reply, message)
        elif action.kind is ActionKind.CLOSE_STDOUT:
            self._closing()
        # hang, swallow: never answered
        return True

    def _reply(self, message: RpcMessage) -> None:
        reply = self.mock.reply_to(message, self.scope, self.tap.exchange_id)
        if isinstance(reply, Miss) and self.mock.spy is not None:
            self.mock.take_back(reply)
            self._start(self._spied(self.mock.spy, message))
            return
        if isinstance(reply, Miss):
            exchange = self.tap.exchange_id
            self._send(self.mock.miss_answer(reply, message.id, exchange, None))
            return
        context = None
        if reply.interaction is not None:
            context = AskContext(reply.interaction, message.payload, self.tap.exchange_id, None)
        self._start(self._answer(reply, context, message))

    def _start(self, answering: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(answering)
        self.answers.add(task)
        task.add_done_callback(self.answers.discard)

    async def _spied(self, spy: Spy, message: RpcMessage) -> None:
        """A miss answered by the real server (spy mode), or the miss when it fails."""
        version = message.protocol_version
        reply = await self.mock.forwarded_reply(spy, message, version, (), self.scope)
        if isinstance(reply, Miss):
            exchange = self.tap.exchange_id
            self._send(self.mock.miss_answer(reply, message.id, exchange, None))
            return
        await self._answer(reply, None, message)

    async def _answer(self, reply: Reply, context: AskContext | None, call: RpcMessage) -> None:
        faults = None
        if self.faults is not None:
            faults = AnswerFaults(self.faults, self.tap.bus, call, None, self.tap.exchange_id)
        lines = _AnswerLines(self, faults)
        played = await play(reply, self.mock.speed, lines, self.mock.asks, context)
        if played.stopped:
            return  # hang, or no stdout left: the rest of the answer never comes
        offset, response = reply.response
        await wait_until(played.start, offset, self.mock.speed, lines)
        if played.miss is not None:
            self.mock.missed_late(played.miss)
            response = miss_body(played.miss, response.get("id"))
        await lines.put(response)

    async def emit(self, message: dict[str, Any], faults: AnswerFaults | None) -> bool:
        """One line of an answer, as the rules say; False: the answer ends here."""
        if faults is None:
            self._send(dumps(message))
            return True
        shaped = await faults.shape(message, _line_frame)
        for chunk in shaped.chunks:
            self._send(chunk, framed=True)
        if shaped.stop is ActionKind.CLOSE_STDOUT:
            self._closing()
        return shaped.stop is None

    def _closing(self) -> None:
        """`close-stdout`: the host's end reads EOF, while the mock runs on."""
        self.stdout_closed = True
        if self._close_stdout is not None:
            self._close_stdout()

    def _send(self, line: bytes, framed: bool = False) -> None:
        data = line if framed else line + b"\n"
        if self._out(data):
            self.tap.server_chunk(data)

    def _out(self, data: bytes) -> bool:
        if self.stdout_closed:
            return False
        self._write(data)
        return True


class _AnswerLines:
    """One answer's lines (a `pacing.Outlet`): each written at once, through its own rules
    (an answer counts its own progress notifications)."""

    def __init__(self, session: StdioMock, faults: AnswerFaults | None) -> None:
        self.session, self.faults = session, faults

    async def put(self, message: dict[str, Any]) -> bool:
        return await self.session.emit(message, self.faults)

    def flush(self) -> None:
        pass

    async def ready(self) -> None:
        pass


def _line_frame(text: bytes) -> bytes:
    return text + b"\n"


async def serve_stdio(
    mock: Replier,
    tap: StdioTap,
    stop: asyncio.Event | None = None,
    faults: FaultPlan | None = None,
) -> None:
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

    def close_stdout() -> None:
        # /dev/null in its place: the pipe's end closes, and fd 1 stays valid for the exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stdout)
        os.close(devnull)

    threading.Thread(target=read_stdin, name="mcp-tap-stdin", daemon=True).start()
    session = StdioMock(mock, tap, write, faults, close_stdout)
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
