"""mcp-tap's own requests to a relayed stdio server, kept apart from the host's session.

The web view's resend writes a request of mcp-tap's own to the server's stdin and reads the
answer off its stdout while the host's session goes on. `SideCalls` sits on both pipes of
`StdioRelay`:

- toward the server (`server_writer`), mcp-tap's line goes between two of the host's lines:
  while the host is in the middle of one, it waits for that line's newline;
- from the server (`server_reader`), nothing changes while none of mcp-tap's calls is
  waited for: chunks go on as they come. While one is, the server's output is cut into
  lines. A line naming one of mcp-tap's ids or progress tokens (they carry a random marker
  the host cannot have chosen) goes to the call, never to the host nor to the tap; every
  other line goes on at once, and only a line not yet whole waits for its newline.

A call that was given up keeps its id listened for, so a late answer never reaches the host
either. The ids are strings, `mcp-tap-resend-<random>-<n>`: no client's id space holds them.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mcp_tap.protocol.events import MessageKind, RpcMessage
from mcp_tap.protocol.jsonrpc import classify_text, progress_params
from mcp_tap.protocol.lines import DEFAULT_MAX_LINE, strip_terminator

Write = Callable[[bytes], None]
PREFIX = "mcp-tap-resend"
NEWLINE = 0x0A
GIVEN_UP_FOR = 300.0  # seconds a call that timed out still has its late lines kept from the host


class SideCallError(Exception):
    """mcp-tap's own call did not get its answer (no server, no answer in time)."""


@dataclass
class SideAnswer:
    """What came back for one of mcp-tap's calls: its progress, then its answer."""

    sent_at: float
    progress: list[tuple[float, RpcMessage]] = field(default_factory=list)
    answer: RpcMessage | None = None
    answered_at: float | None = None


@dataclass
class _Waiting:
    answer: SideAnswer
    done: asyncio.Future[None]


class SideCalls:
    """Both pipes' filters for mcp-tap's own calls to one server (module docstring)."""

    def __init__(self, max_line: int = DEFAULT_MAX_LINE) -> None:
        self.marker = f"{PREFIX}-{secrets.token_hex(6)}"
        self.max_line = max_line  # a longer unfinished line goes on uninspected
        self._marker = self.marker.encode()
        self._count = 0
        self._waiting: dict[str, _Waiting] = {}  # by id, and by progress token
        # ids and tokens whose late lines are dropped -> the call's keys and when to stop
        self._given_up: dict[str, tuple[tuple[str, ...], float]] = {}
        self._write: Write | None = None
        self._server_open: Callable[[], bool] = lambda: False
        self._host_mid_line = False  # the host's last byte to the server was not a newline
        self._queued: list[bytes] = []  # mcp-tap's lines waiting for the host's newline
        self._to_host: Write | None = None
        self._host_out_mid_line = False  # the last byte that went to the host was not one
        self._partial = b""  # while listening: the server's line not yet whole
        self._ended: str | None = None

    def new_id(self) -> str:
        """An id (also good as a progress token) no host can have used."""
        self._count += 1
        return f"{self.marker}-{self._count}"

    # --- the relay's side --------------------------------------------------------------

    def server_writer(self, write: Write, is_open: Callable[[], bool]) -> Write:
        """What the relay calls to write the host's bytes to the server's stdin."""
        self._write, self._server_open, self._ended = write, is_open, None
        return self._host_bytes

    def server_reader(self, forward: Write) -> Write:
        """What the relay calls with each chunk of the server's stdout; `forward` takes on
        what is the host's."""
        self._to_host = forward
        return self._server_bytes

    def server_closed(self) -> None:
        """The server's stdout ended: a held line goes on, and waiting calls fail."""
        rest, self._partial = self._partial, b""
        if rest and self._to_host is not None:
            self._to_host(rest)
        self.end("the server closed its stdout")

    def end(self, why: str) -> None:
        """No more calls: each waiting one fails with `why`."""
        self._ended = why
        for waiting in self._waiting.values():
            if not waiting.done.done():
                waiting.done.set_exception(SideCallError(why))

    # --- a call ------------------------------------------------------------------------

    async def call(self, message: dict[str, Any], timeout: float) -> SideAnswer:
        """Send `message` (a request whose id, and progress token if any, came from
        `new_id`) and wait at most `timeout` seconds for its answer."""
        if self._write is None or self._ended is not None or not self._server_open():
            raise SideCallError(self._ended or "the server is not running")
        keys = [str(message["id"])]
        token = _progress_token(message)
        if isinstance(token, str) and token.startswith(self.marker) and token not in keys:
            keys.append(token)
        waiting = _Waiting(SideAnswer(time.time()), asyncio.get_running_loop().create_future())
        for key in keys:
            self._waiting[key] = waiting
        line = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        if self._host_mid_line:
            self._queued.append(line)
        else:
            self._write(line)
        try:
            async with asyncio.timeout(timeout):
                await waiting.done
        except TimeoutError:
            until = time.monotonic() + GIVEN_UP_FOR
            self._given_up.update((key, (tuple(keys), until)) for key in keys)
            raise SideCallError(f"the server did not answer within {timeout:g} s") from None
        finally:
            for key in keys:
                self._waiting.pop(key, None)
        return waiting.answer

    # --- the host's bytes to the server ------------------------------------------------

    def _host_bytes(self, data: bytes) -> None:
        assert self._write is not None
        if not data:
            return
        if self._queued:
            end = data.find(b"\n")
            if end >= 0:  # the host's line is whole: mcp-tap's lines go after it
                self._write(data[: end + 1])
                for line in self._queued:
                    self._write(line)
                self._queued.clear()
                data = data[end + 1 :]
                self._host_mid_line = False
                if not data:
                    return
        self._write(data)
        self._host_mid_line = data[-1] != NEWLINE

    # --- the server's bytes to the host ------------------------------------------------

    @property
    def _listening(self) -> bool:
        if self._given_up:
            now = time.monotonic()
            for key in [k for k, (_, until) in self._given_up.items() if until < now]:
                del self._given_up[key]  # no answer that late: stop cutting lines for it
        return bool(self._waiting or self._given_up)

    def _server_bytes(self, data: bytes) -> None:
        assert self._to_host is not None
        if not self._listening and not self._partial:
            self._to_host(data)  # the common case: nothing of mcp-tap's is on its way
            if data:
                self._host_out_mid_line = data[-1] != NEWLINE
            return
        buffered = self._partial + data if self._partial else data
        out: list[bytes] = []
        start = 0
        if self._host_out_mid_line:  # the end of a line whose start the host already has
            end = buffered.find(b"\n")
            if end < 0:
                self._to_host(buffered)
                self._partial = b""
                return
            out.append(buffered[: end + 1])
            start = end + 1
            self._host_out_mid_line = False
        while (end := buffered.find(b"\n", start)) >= 0:
            line = buffered[start : end + 1]
            if self._marker not in line or not self._take(line):
                out.append(line)
            start = end + 1
        rest = buffered[start:]
        if rest and (not self._listening or len(rest) > self.max_line):
            out.append(rest)  # no answer of mcp-tap's is awaited, or too long to hold
            self._host_out_mid_line = True
            rest = b""
        self._partial = rest
        if out:
            self._to_host(b"".join(out))

    def _take(self, line: bytes) -> bool:
        """Whether `line` is mcp-tap's (then it is handed to its call, or dropped)."""
        messages = classify_text(strip_terminator(line))
        if len(messages) != 1:
            return False
        message = messages[0]
        if message.kind in (MessageKind.RESPONSE, MessageKind.ERROR):
            key = message.id
        else:
            params = progress_params(message)
            key = params.get("progressToken") if params is not None else None
        if not isinstance(key, str):
            return False
        given_up = self._given_up.get(key)
        if given_up is not None:
            if message.kind is not MessageKind.NOTIFICATION:
                for other in given_up[0]:  # the late answer: its token is done with too
                    self._given_up.pop(other, None)
            return True
        waiting = self._waiting.get(key)
        if waiting is None:
            return False
        if message.kind is MessageKind.NOTIFICATION:
            waiting.answer.progress.append((time.time(), message))
        elif not waiting.done.done():
            waiting.answer.answer, waiting.answer.answered_at = message, time.time()
            waiting.done.set_result(None)
            for other in [k for k, w in self._waiting.items() if w is waiting]:
                del self._waiting[other]  # listened for no more, from this very chunk on
        return True


def _progress_token(message: dict[str, Any]) -> Any:
    params = message.get("params")
    meta = params.get("_meta") if isinstance(params, dict) else None
    return meta.get("progressToken") if isinstance(meta, dict) else None
