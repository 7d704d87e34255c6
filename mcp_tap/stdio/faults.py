"""The stdio carrier's side of `--fault`: cut both pipes into lines, decide, perform.

With rules, a line leaves only once it is whole, so each message can be decided before it
is forwarded (without rules, `relay.py` forwards chunks as they come). A request a rule
answers (`error`) is never written to the server; `kill` sends SIGKILL to the server's
group instead of forwarding the message, and `close-stdout` closes the host's end of the
server's stdout, as if the server had closed it, while the server runs on.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from mcp_tap.faults import Action, ActionKind, FaultPlan
from mcp_tap.faults.calls import CallBook
from mcp_tap.faults.pace import Pacer
from mcp_tap.faults.plan import mangle
from mcp_tap.protocol.events import Direction, FaultInjected, MessageKind, RpcMessage
from mcp_tap.protocol.jsonrpc import classify_text
from mcp_tap.protocol.lines import strip_terminator
from mcp_tap.tap.stdio import StdioTap

Write = Callable[[bytes], None]


class StdioFaults:
    """The rules of one stdio session, between the host's pipes and the server's."""

    def __init__(
        self,
        plan: FaultPlan,
        tap: StdioTap,
        to_server: Write,
        to_host: Write,
        kill: Callable[[], None],
        close_stdout: Callable[[], None],
    ) -> None:
        self.plan = plan
        self.tap = tap
        self._to_server = to_server
        self._to_host = to_host
        self._kill = kill
        self._close_stdout = close_stdout
        self._book = CallBook()
        self._partial = {Direction.CLIENT_TO_SERVER: b"", Direction.SERVER_TO_CLIENT: b""}
        self._held: dict[Direction, bytes] = {}  # a progress line `reorder` holds back
        self._pacers: dict[Direction, Pacer] = {}  # each way's lines in order, some slowed
        self.stdout_closed = False

    def from_host(self, data: bytes) -> None:
        """A chunk from the host: whole lines go to the server as the rules say."""
        for line in self._lines(Direction.CLIENT_TO_SERVER, data):
            self._line(Direction.CLIENT_TO_SERVER, line)
        self.tap.client_chunk(data)  # what the host sent, whatever reached the server

    def from_server(self, data: bytes) -> None:
        """A chunk from the server: whole lines go to the host as the rules say."""
        if self.stdout_closed:
            return
        for line in self._lines(Direction.SERVER_TO_CLIENT, data):
            self._line(Direction.SERVER_TO_CLIENT, line)

    def host_closed(self, then: Callable[[], None]) -> None:
        """The host closed stdin: a last line with no newline still goes on, as the rules say
        (forwarding never loses bytes); `then` once a slowed line has gone too."""
        self._flush(Direction.CLIENT_TO_SERVER)
        self._pacer(Direction.CLIENT_TO_SERVER).then(then)

    def server_closed(self, then: Callable[[], None]) -> None:
        """The server closed stdout: its last line, newline or not, goes on to the host;
        `then` once a slowed line has gone too."""
        if not self.stdout_closed:
            self._flush(Direction.SERVER_TO_CLIENT)
        self._pacer(Direction.SERVER_TO_CLIENT).then(then)

    def _flush(self, direction: Direction) -> None:
        rest, self._partial[direction] = self._partial[direction], b""
        if rest:
            self._line(direction, rest)
        held = self._held.pop(direction, b"")
        if held:
            self._write(direction, held)  # no line followed it: it goes last

    def _lines(self, direction: Direction, data: bytes) -> list[bytes]:
        buffered = self._partial[direction] + data
        *lines, rest = buffered.split(b"\n")
        self._partial[direction] = rest
        return [line + b"\n" for line in lines]

    def _line(self, direction: Direction, line: bytes) -> None:
        held = self._held.pop(direction, b"")
        self._decide(direction, line)  # may hold this line in turn
        if held:
            self._write(direction, held)  # after the line that followed it

    def _decide(self, direction: Direction, line: bytes) -> None:
        for message in classify_text(strip_terminator(line)):
            action = self.plan.decide(message, self._book.context(message, direction))
            if action is not None:
                self._publish(action, message, direction)
                self._act(action, direction, line, message)
                return
        self._write(direction, line)

    def _pacer(self, direction: Direction) -> Pacer:
        if direction not in self._pacers:
            self._pacers[direction] = Pacer(asyncio.get_running_loop().call_later)
        return self._pacers[direction]

    def _write(self, direction: Direction, data: bytes, size: int = 0, every: float = 0.0) -> None:
        """Forward `data` after what went before it; with `size`, a few bytes at a time."""
        if direction is Direction.CLIENT_TO_SERVER:
            self._pacer(direction).write(self._to_server, data, size, every)
        else:
            self._pacer(direction).write(self._to_host_open, data, size, every)
            self._pacer(direction).then(lambda: self.tap.server_chunk(data))  # what it got

    def _to_host_open(self, data: bytes) -> None:
        if not self.stdout_closed:
            self._to_host(data)

    def _act(self, action: Action, direction: Direction, line: bytes, message: RpcMessage) -> None:
        kind = action.kind
        if kind is ActionKind.ERROR:
            error = {"code": action.rule.code, "message": action.rule.message}
            reply = {"jsonrpc": "2.0", "id": message.id, "error": error}
            self._to_host(json.dumps(reply).encode() + b"\n")  # not the server's: not tapped
        elif kind is ActionKind.KILL:
            self._kill()
        elif kind is ActionKind.CLOSE_STDOUT:
            self.stdout_closed = True
            self._close_stdout()
        elif kind is ActionKind.DUPLICATE:
            self._write(direction, line + line)
        elif kind in (ActionKind.TRUNCATE, ActionKind.CORRUPT):
            self._write(direction, mangle(kind, strip_terminator(line)) + b"\n")
        elif kind is ActionKind.REORDER:
            self._held[direction] = line
        elif kind is ActionKind.SLOW:
            self._write(direction, line, action.rule.slow_bytes, action.rule.slow_every)
        elif kind is ActionKind.DELAY:
            loop = asyncio.get_running_loop()
            loop.call_later(action.seconds, self._write, direction, line)
        # HANG, SWALLOW: the line goes nowhere

    def _publish(self, action: Action, message: RpcMessage, direction: Direction) -> None:
        call = self._book.last_call
        what = message.method or (call.method if call is not None else message.kind.value)
        request_id = message.id if message.kind is not MessageKind.NOTIFICATION else None
        where = "from the host" if direction is Direction.CLIENT_TO_SERVER else "from the server"
        self.tap.bus.publish(
            FaultInjected(
                self.tap.bus.now(), self.tap.exchange_id, action.rule.text, action.kind.value,
                f"{what} {where}: {action.describe()}", None, request_id, direction,
            )
        )  # fmt: skip
