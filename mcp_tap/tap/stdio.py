"""Turn the two byte streams of a stdio session into tap events.

A stdio server's whole life is one conversation on one pair of pipes, so it is published as
one exchange: `ExchangeOpened` when the command starts, a `MessageSeen` per newline-delimited
message each way (stream `stdio`), `ExchangeClosed` when it ends. `StdioTap` is fed copies of
what the carrier has already forwarded; nothing here can hold a byte back.

Nor can it slow the next byte down. Decoding a message costs far more than relaying it, so a
chunk is only queued (with the time it crossed) in the read callback, and decoded later, when
the pipes have been quiet for `QUIET` seconds or the oldest waiting chunk is `MAX_DELAY` old,
in slices of at most `SLICE` seconds a loop turn. Quiet means both: nothing crossed for
`QUIET`, and nothing waits to cross (the carrier's `relaying`, when it can tell: bytes in a
pipe not yet read, or written and not yet taken). A pause in a burst that is the relay's
own (a core taken by another process for a millisecond) is then not mistaken for its end.
A burst (a flood of notifications) thus crosses at the pipe's pace and is inspected after
it, with its recorded times unchanged. The
waiting bytes are bounded: past `MAX_BACKLOG`, the read callback decodes down to half of it
before it returns, so the next read waits for the inspection (the pipe's own back-pressure)
instead of memory growing.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

from mcp_tap.protocol.events import (
    Direction,
    ExchangeClosed,
    ExchangeOpened,
    Fault,
    MessageSeen,
    StreamKind,
)
from mcp_tap.protocol.jsonrpc import classify_text
from mcp_tap.protocol.lines import DEFAULT_MAX_LINE, LineDecoder, LongLine, strip_terminator
from mcp_tap.tap.bus import TapBus

STDIO_METHOD = "STDIO"  # the exchange's "method": there is no HTTP request behind it
STDIO_EXCHANGE_ID = 1
SLICE = 0.0002  # seconds of decoding per loop turn: a read waits at most this long for it
QUIET = 0.001  # decode once nothing has crossed for this long (a burst writes more often)...
MAX_DELAY = 0.1  # ...or once the oldest chunk waiting has waited this long
MAX_BACKLOG = 16 * 1024 * 1024  # undecoded bytes held at most (a 16 MiB flood passes untouched)


class StdioTap:
    """The inspection side of one stdio session: both directions, one exchange."""

    def __init__(
        self,
        bus: TapBus,
        program: str,
        max_line: int = DEFAULT_MAX_LINE,
        exchange_id: int = STDIO_EXCHANGE_ID,
    ) -> None:
        self.bus = bus
        self.exchange_id = exchange_id
        self.program = program
        self.max_line = max_line
        self._from_client = LineDecoder(max_line)
        self._from_server = LineDecoder(max_line)
        self._bytes_to_client = 0
        self._closed = False
        self._backlog: deque[tuple[Direction, bytes, float]] = deque()  # chunks, not framed
        self._lines_waiting: deque[tuple[Direction, bytes | LongLine, float]] = deque()
        self._scheduled = False
        self._pending = 0  # bytes in _backlog
        self._last = 0.0  # when the latest chunk crossed (the bus's clock)
        self.max_backlog = MAX_BACKLOG
        self.relaying: Callable[[], bool] = lambda: False  # bytes wait to cross (the carrier's)

    def opened(self) -> None:
        """The command was started; `program` names it (its arguments live in the header)."""
        event = ExchangeOpened(
            self.exchange_id, self.bus.now(), STDIO_METHOD, self.program, (), None
        )
        self.bus.publish(event)

    def client_chunk(self, data: bytes) -> None:
        """Bytes from the host were written to the server's stdin."""
        self._queue(Direction.CLIENT_TO_SERVER, data)

    def server_chunk(self, data: bytes) -> None:
        """Bytes from the server's stdout were written to the host."""
        self._bytes_to_client += len(data)
        self._queue(Direction.SERVER_TO_CLIENT, data)

    def client_closed(self) -> None:
        """The host closed its end: a last line without a newline is still a message."""
        self._catch_up()
        self._lines(Direction.CLIENT_TO_SERVER, self._from_client.close(), self.bus.now())

    def fault(self, kind: str, detail: str) -> None:
        """Something the user should know about this session (see `Fault`)."""
        self._catch_up()  # in order with the messages that came before it
        self.bus.publish(Fault(self.bus.now(), self.exchange_id, kind, detail))

    def _queue(self, direction: Direction, data: bytes) -> None:
        now = self._last = self.bus.now()
        self._backlog.append((direction, data, now))
        self._pending += len(data)
        if self._pending > self.max_backlog:
            while self._pending > self.max_backlog // 2 and self._step():
                pass  # the read callback pays: the next read waits, memory does not grow
        if self._scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._catch_up()  # no loop (a test feeding bytes): decode now
            return
        self._scheduled = True
        loop.call_later(QUIET, self._work)

    def crossing(self) -> bool:
        """A burst is crossing: a chunk crossed within `QUIET`, or bytes wait to."""
        return self.bus.now() - self._last < QUIET or self.relaying()

    def _work(self) -> None:
        """One slice of decoding if the pipes are quiet or a chunk has waited too long; then
        the next turn (more to do) or the next check (a burst is still crossing)."""
        self._scheduled = False
        if not self._backlog and not self._lines_waiting:
            return
        now = self.bus.now()
        oldest = self._lines_waiting[0][2] if self._lines_waiting else self._backlog[0][2]
        loop = asyncio.get_running_loop()
        self._scheduled = True
        if self.crossing() and now - oldest < MAX_DELAY:
            loop.call_later(QUIET, self._work)
            return
        deadline = time.perf_counter() + SLICE
        while self._step():
            if time.perf_counter() >= deadline:
                loop.call_soon(self._work)
                return
        self._scheduled = False

    def _catch_up(self) -> None:
        while self._step():
            pass

    def _step(self) -> bool:
        """Classify one line, framing the next chunk first if none is waiting; False when
        there was nothing left. One line at a time: a 64 KiB read can hold 800 messages."""
        if not self._lines_waiting:
            if not self._backlog:
                return False
            direction, data, when = self._backlog.popleft()
            self._pending -= len(data)
            decoder = (
                self._from_client if direction is Direction.CLIENT_TO_SERVER else self._from_server
            )
            self._lines_waiting.extend((direction, line, when) for line in decoder.feed(data))
            return True
        direction, line, when = self._lines_waiting.popleft()
        self._lines(direction, [line], when)
        return True

    def closed(self, reason: str) -> None:
        """The session ended; `reason` says how. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self.client_closed()
        self._lines(Direction.SERVER_TO_CLIENT, self._from_server.close(), self.bus.now())
        event = ExchangeClosed(self.exchange_id, self.bus.now(), reason, self._bytes_to_client)
        self.bus.publish(event)

    def _lines(self, direction: Direction, lines: list[bytes | LongLine], now: float) -> None:
        for line in lines:
            if isinstance(line, LongLine):
                side = "host" if direction is Direction.CLIENT_TO_SERVER else "server"
                ending = "" if line.complete else " (cut by the end of the stream)"
                detail = (
                    f"a {line.size}-byte line from the {side} is over --max-line "
                    f"({self.max_line} bytes): forwarded, not inspected{ending}"
                )
                self.bus.publish(Fault(now, self.exchange_id, "message-too-large", detail))
                continue
            text = strip_terminator(line)
            if not text.strip():
                continue  # a blank line carries no message; it is forwarded all the same
            for message in classify_text(text):
                self.bus.publish(
                    MessageSeen(self.exchange_id, now, direction, StreamKind.STDIO, None, message)
                )
