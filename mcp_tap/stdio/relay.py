"""`StdioRelay`: run a stdio MCP server's command between the host and mcp-tap's own pipes.

Forward first, inspect second, as in the HTTP carrier: every chunk read from one side is
written to the other in the same read callback, before a copy of it goes to the `StdioTap`.
Nothing is held back waiting for a line to end, so a message reaches its reader the moment
its last byte does. A side that cannot keep up pauses the reading of the other (the pipe's
own back-pressure), and nothing else is buffered.

The child's stderr is the very descriptor mcp-tap was given: it passes through untouched.
mcp-tap writes nothing of its own to stdout, with one exception: a command that cannot start
gets the host's first request answered with a JSON-RPC error, so the host can say why.

Life cycle (the MCP stdio transport's shutdown): when the host closes stdin, the server's
stdin is closed; if it has not exited `grace` seconds later it gets SIGTERM, and SIGKILL
`term_grace` seconds after that. When the server exits, the relay ends with its status.
SIGINT and SIGTERM sent to mcp-tap are passed to the server, which runs in a process group
of its own: so a Ctrl-C in a terminal reaches it once, through mcp-tap, not twice. A server
still running `term_grace` seconds later gets SIGKILL: a host that sends SIGTERM expects the
session to end. Should mcp-tap itself be killed outright, the server dies with it
(`child.py`).

With `side_calls` (`stdio --web`), the web view's resend puts requests of mcp-tap's own on
the server's stdin between the host's lines, and their answers are taken off its stdout
before the host or the tap sees them (`side_calls.py`).

This module is the relay and its life cycle; the pipes' protocols are `pipes.py`'s, and
starting, waiting for and signalling the server's process `child.py`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mcp_tap.faults import FaultPlan
from mcp_tap.protocol.events import MessageKind
from mcp_tap.protocol.jsonrpc import classify_text
from mcp_tap.protocol.lines import DEFAULT_MAX_LINE, LineDecoder, LongLine, strip_terminator
from mcp_tap.stdio.child import describe_end, exit_status, signal_group, spawn, watch_exit
from mcp_tap.stdio.faults import StdioFaults
from mcp_tap.stdio.pipes import PipeReader, PipeWriter, connect_read, connect_write
from mcp_tap.stdio.side_calls import SideCalls
from mcp_tap.tap.stdio import StdioTap

DEFAULT_GRACE = 2.0  # seconds from closing the server's stdin to SIGTERM
DEFAULT_TERM_GRACE = 2.0  # seconds from SIGTERM to SIGKILL
# After the server exits, how long its stdout may stay open: a grandchild it left behind
# holds the pipe, and the host must not wait for it forever.
DEFAULT_DRAIN = 1.0
EXIT_NOT_STARTED = 127  # what a shell answers for a command it cannot run
NOT_STARTED_CODE = -32000  # JSON-RPC "server error": the server never ran


@dataclass
class StdioOptions:
    """What `mcp-tap stdio` was asked to do."""

    command: Sequence[str]
    max_line: int = DEFAULT_MAX_LINE  # longer lines are forwarded but not inspected
    grace: float = DEFAULT_GRACE
    term_grace: float = DEFAULT_TERM_GRACE
    drain: float = DEFAULT_DRAIN
    faults: FaultPlan | None = None  # --fault rules (stdio/faults.py); None: chunks as they come
    side_calls: SideCalls | None = None  # mcp-tap's own calls (the web view's resend)


class StdioRelay:
    """One run of a stdio server's command, relayed and tapped (see the module docstring)."""

    def __init__(
        self,
        options: StdioOptions,
        tap: StdioTap,
        stdin: int = 0,
        stdout: int = 1,
        notice: Callable[[str], None] | None = None,
    ) -> None:
        if not options.command:
            raise ValueError("no command to run")
        self.options = options
        self.tap = tap
        self._stdin_fd = stdin
        self._stdout_fd = stdout
        self._notice = notice or _to_stderr
        self._loop: asyncio.AbstractEventLoop | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._exited: asyncio.Future[int] | None = None
        self._host_in: PipeReader | None = None
        self._host_out: PipeWriter | None = None
        self._child_in: PipeWriter | None = None
        self._to_server: Callable[[bytes], None] = lambda data: None
        self._child_out: PipeReader | None = None
        self._child_out_done: asyncio.Event | None = None
        self._host_gone = False
        self._stopping: asyncio.Task[None] | None = None  # after the host closed stdin
        self._faults: StdioFaults | None = None  # with --fault rules: lines, not chunks
        self._killing: asyncio.Future[None] | None = None  # after a signal to mcp-tap
        self._fallback_threads: list[threading.Thread] = []
        self._pipes = (-1, -1)  # our ends of the server's stdin and stdout, once it runs

    @property
    def program(self) -> str:
        return self.options.command[0]

    async def run(self) -> int:
        """Relay until the server exits; its exit status (127 when it could not start)."""
        self._loop = asyncio.get_running_loop()
        self._child_out_done = asyncio.Event()
        host_out = self._host_out = PipeWriter(lambda: self._child_out)
        await self._connect_write(os.dup(self._stdout_fd), host_out)
        try:
            try:
                self._process, to_child, from_child = spawn(self.options.command)
            except (OSError, ValueError, subprocess.SubprocessError) as error:
                return await self._not_started(error)
            self._pipes = (to_child, from_child)
            self.tap.opened()
            self._exited = self._loop.create_future()
            watch_exit(self._loop, self._process, self._exited)
            return await self._relay()
        finally:
            host_out.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(host_out.lost), self.options.term_grace)
            with contextlib.suppress(OSError):  # leave the host's descriptions as they were
                os.set_blocking(self._stdin_fd, True)
                os.set_blocking(self._stdout_fd, True)

    @property
    def _running(self) -> bool:
        return self._exited is not None and not self._exited.done()

    # --- the relay --------------------------------------------------------------------------

    async def _relay(self) -> int:
        assert self._loop is not None and self._exited is not None and self._process is not None
        to_child, from_child = self._pipes
        child_in = self._child_in = PipeWriter(lambda: self._host_in)
        await self._connect_write(to_child, child_in)
        self._to_server = child_in.write
        side = self.options.side_calls
        if side is not None:  # mcp-tap's lines go between the host's
            self._to_server = side.server_writer(child_in.write, lambda: child_in.open)
        from_server: Callable[[bytes], None] = self._from_server
        from_host: Callable[[bytes], None] = self._from_host
        if self.options.faults:
            faults = StdioFaults(
                self.options.faults, self.tap, self._to_server, self._to_host, self._kill_now,
                self._close_host_out,
            )  # fmt: skip
            from_server, from_host = faults.from_server, faults.from_host
            self._faults = faults
        if side is not None:  # the answers to mcp-tap's lines never reach the host
            from_server = side.server_reader(from_server)
        child_out = self._child_out = PipeReader(from_server, self._server_eof)
        await self._connect_read(from_child, child_out)
        host_in = self._host_in = PipeReader(from_host, self._host_eof)
        await self._connect_read(os.dup(self._stdin_fd), host_in)
        self.tap.relaying = self._relaying
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._loop.add_signal_handler(sig, self._signal, sig)
        try:
            returncode = await self._exited
            assert self._child_out_done is not None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._child_out_done.wait(), self.options.drain)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._loop.remove_signal_handler(sig)
            for task in (self._stopping, self._killing):
                if task is not None:
                    task.cancel()
            for reader in (child_out, host_in):
                if reader.transport is not None:
                    reader.transport.close()
            child_in.close()
            if side is not None:
                side.end("the server has exited")
        if returncode != 0:
            self.tap.fault("server-exit", f"{self.program} {describe_end(returncode)}")
        self.tap.closed("host-closed" if self._host_gone else "server-exited")
        return exit_status(returncode)

    def _relaying(self) -> bool:
        """Bytes wait to cross, either way: the tap's decoding waits for them."""
        assert self._host_out is not None and self._child_in is not None
        readers = (self._child_out, self._host_in)
        writers = (self._host_out, self._child_in)
        return any(r is not None and r.waiting() for r in readers) or any(
            w.queued() for w in writers
        )

    def _from_host(self, data: bytes) -> None:
        self._to_server(data)  # first the server gets it, then the tap sees it
        self.tap.client_chunk(data)

    def _from_server(self, data: bytes) -> None:
        assert self._host_out is not None
        self._host_out.write(data)
        self.tap.server_chunk(data)

    def _to_host(self, data: bytes) -> None:
        assert self._host_out is not None
        self._host_out.write(data)

    def _kill_now(self) -> None:
        """A `kill` rule: SIGKILL, as a crash or the OOM killer would."""
        signal_group(self._process, signal.SIGKILL)

    def _close_host_out(self) -> None:
        """A `close-stdout` rule: the host reads the end of the server's output."""
        assert self._host_out is not None
        self._host_out.close()

    def _host_eof(self) -> None:
        """The host closed stdin: the spec's way to end a stdio session."""
        if self._faults is not None:  # its last line, if it had no newline, and slowed ones
            self._faults.host_closed(self._close_child_in)
        else:
            self._close_child_in()
        self.tap.client_closed()
        self._host_gone = True
        if self._stopping is None and self._killing is None and self._running:
            self._stopping = asyncio.ensure_future(self._stop_server())

    def _server_eof(self) -> None:
        assert self._child_out_done is not None
        if self.options.side_calls is not None:
            self.options.side_calls.server_closed()  # a line it held goes on first
        if self._faults is not None:
            self._faults.server_closed(self._child_out_done.set)
        else:
            self._child_out_done.set()

    def _close_child_in(self) -> None:
        if self._child_in is not None:
            self._child_in.close()  # the server reads EOF once what was sent is flushed

    async def _stop_server(self) -> None:
        """Wait `grace` for the server to exit on its own, then SIGTERM, then SIGKILL."""
        assert self._exited is not None
        grace = self.options.grace
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._exited), grace)
            return
        detail = f"{self.program} did not exit within {grace:g} s of its stdin closing"
        self.tap.fault("server-terminated", f"{detail}: sent SIGTERM")
        signal_group(self._process, signal.SIGTERM)
        await self._kill_after(signal.SIGTERM)

    async def _kill_after(self, sig: signal.Signals) -> None:
        """SIGKILL for a server still running `term_grace` seconds after `sig`."""
        assert self._exited is not None
        term_grace = self.options.term_grace
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._exited), term_grace)
            return
        detail = f"{self.program} did not exit {term_grace:g} s after {sig.name}: sent SIGKILL"
        self.tap.fault("server-killed", detail)
        signal_group(self._process, signal.SIGKILL)

    def _signal(self, sig: signal.Signals) -> None:
        """SIGINT or SIGTERM for mcp-tap: the server's to act on, within `term_grace`; then
        SIGKILL, so that a host's SIGTERM ends the session even if the server ignores it.
        Its exit ends the relay."""
        signal_group(self._process, sig)
        if self._killing is None and self._running:
            if self._stopping is not None:
                self._stopping.cancel()  # this signal starts the clock instead
            self._killing = asyncio.ensure_future(self._kill_after(sig))

    # --- a command that cannot start ---------------------------------------------------------

    async def _not_started(self, error: BaseException) -> int:
        """Say why on stderr, answer the host's first request with an error, exit 127."""
        assert self._loop is not None
        reason = _reason(error)
        self._notice(f"mcp-tap: cannot start {self.program!r}: {reason}")
        self.tap.opened()
        self.tap.fault("server-not-started", f"cannot start {self.program!r}: {reason}")
        answered: asyncio.Future[None] = self._loop.create_future()
        decoder = LineDecoder(self.options.max_line)

        def data(chunk: bytes) -> None:
            self.tap.client_chunk(chunk)
            if answered.done():
                return
            for line in decoder.feed(chunk):
                reply = _error_reply(line, f"mcp-tap: cannot start {self.program!r}: {reason}")
                if reply is not None:
                    assert self._host_out is not None
                    self._host_out.write(reply)
                    self.tap.server_chunk(reply)
                    answered.set_result(None)
                    return

        def end() -> None:
            if not answered.done():
                answered.set_result(None)

        host_in = self._host_in = PipeReader(data, end)
        await self._connect_read(os.dup(self._stdin_fd), host_in)
        try:
            await answered
        finally:
            if host_in.transport is not None:
                host_in.transport.close()
        self.tap.closed("not-started")
        return EXIT_NOT_STARTED

    # --- pipes -------------------------------------------------------------------------------

    async def _connect_read(self, fd: int, protocol: PipeReader) -> None:
        assert self._loop is not None
        thread = await connect_read(self._loop, fd, protocol)
        if thread is not None:
            self._fallback_threads.append(thread)

    async def _connect_write(self, fd: int, protocol: PipeWriter) -> None:
        assert self._loop is not None
        await connect_write(self._loop, fd, protocol)


def _reason(error: BaseException) -> str:
    """`No such file or directory`, not `[Errno 2] No such file or directory: 'x'`."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


def _error_reply(line: bytes | LongLine, text: str) -> bytes | None:
    """The JSON-RPC error answering the requests in `line`, or None if it holds none."""
    if isinstance(line, LongLine):
        return None
    messages = classify_text(strip_terminator(line))
    errors = [
        {"jsonrpc": "2.0", "id": m.id, "error": {"code": NOT_STARTED_CODE, "message": text}}
        for m in messages
        if m.kind is MessageKind.REQUEST
    ]
    if not errors:
        return None
    batched = len(messages) > 1 or messages[0].batch_index is not None
    body: Any = errors if batched else errors[0]
    return json.dumps(body).encode() + b"\n"


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
