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
of its own: so a Ctrl-C in a terminal reaches it once, through mcp-tap, not twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import signal
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

from mcp_tap.protocol.events import MessageKind
from mcp_tap.protocol.jsonrpc import classify_text
from mcp_tap.protocol.lines import DEFAULT_MAX_LINE, LineDecoder, LongLine, strip_terminator
from mcp_tap.tap.stdio import StdioTap

DEFAULT_GRACE = 2.0  # seconds from closing the server's stdin to SIGTERM
DEFAULT_TERM_GRACE = 2.0  # seconds from SIGTERM to SIGKILL
# After the server exits, how long its stdout may stay open: a grandchild it left behind
# holds the pipe, and the host must not wait for it forever.
DEFAULT_DRAIN = 1.0
PIPE_SIZE = 1024 * 1024  # the unprivileged maximum (/proc/sys/fs/pipe-max-size)
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


def exit_status(returncode: int) -> int:
    """A shell's view of a child's end: its status, or 128 + the signal that killed it."""
    return returncode if returncode >= 0 else 128 - returncode


def describe_end(returncode: int) -> str:
    """`exited with status 3`, `was killed by SIGKILL`."""
    if returncode >= 0:
        return f"exited with status {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    return f"was killed by {name}"


class _Reader(asyncio.Protocol):
    """Hands each chunk a pipe delivers to `on_data`, and its end to `on_end` (once)."""

    def __init__(self, on_data: Callable[[bytes], None], on_end: Callable[[], None]) -> None:
        self.on_data = on_data
        self.on_end = on_end
        self.transport: asyncio.ReadTransport | None = None
        self.ended = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.ReadTransport, transport)  # uvloop's are not subclasses

    def data_received(self, data: bytes) -> None:
        self.on_data(data)

    def eof_received(self) -> bool | None:
        self._end()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._end()

    def _end(self) -> None:
        if not self.ended:
            self.ended = True
            self.on_end()

    def pause(self) -> None:
        if self.transport is not None and not self.ended:
            with contextlib.suppress(RuntimeError):  # already closing
                self.transport.pause_reading()

    def resume(self) -> None:
        if self.transport is not None and not self.ended:
            with contextlib.suppress(RuntimeError):
                self.transport.resume_reading()


class _Writer(asyncio.BaseProtocol):
    """A pipe written to; its back-pressure pauses the reader that feeds it."""

    def __init__(self, feeder: Callable[[], _Reader | None]) -> None:
        self.feeder = feeder
        self.transport: asyncio.WriteTransport | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.WriteTransport, transport)

    def pause_writing(self) -> None:
        reader = self.feeder()
        if reader is not None:
            reader.pause()

    def resume_writing(self) -> None:
        reader = self.feeder()
        if reader is not None:
            reader.resume()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)
        self.resume_writing()  # a reader paused for us must not stay paused forever

    @property
    def open(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def write(self, data: bytes) -> None:
        if self.open:
            assert self.transport is not None
            self.transport.write(data)

    def close(self) -> None:
        """Close once what was written has been flushed."""
        if self.open:
            assert self.transport is not None
            self.transport.close()


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
        self._host_in: _Reader | None = None
        self._host_out: _Writer | None = None
        self._child_in: _Writer | None = None
        self._child_out: _Reader | None = None
        self._child_out_done: asyncio.Event | None = None
        self._host_gone = False
        self._stopping: asyncio.Task[None] | None = None
        self._fallback_threads: list[threading.Thread] = []
        self._pipes = (-1, -1)  # our ends of the server's stdin and stdout, once it runs

    @property
    def program(self) -> str:
        return self.options.command[0]

    async def run(self) -> int:
        """Relay until the server exits; its exit status (127 when it could not start)."""
        self._loop = asyncio.get_running_loop()
        self._child_out_done = asyncio.Event()
        host_out = self._host_out = _Writer(lambda: self._child_out)
        await self._connect_write(os.dup(self._stdout_fd), host_out)
        try:
            try:
                self._process = self._spawn()
            except (OSError, ValueError, subprocess.SubprocessError) as error:
                return await self._not_started(error)
            self.tap.opened()
            self._exited = self._loop.create_future()
            self._watch_exit(self._process)
            return await self._relay()
        finally:
            host_out.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(host_out.lost), self.options.term_grace)
            with contextlib.suppress(OSError):  # leave the host's descriptions as they were
                os.set_blocking(self._stdin_fd, True)
                os.set_blocking(self._stdout_fd, True)

    # --- the relay --------------------------------------------------------------------------

    def _spawn(self) -> subprocess.Popen[bytes]:
        child_stdin, to_child = os.pipe()
        from_child, child_stdout = os.pipe()
        for fd in (to_child, from_child):
            _widen(fd)
        try:
            process = subprocess.Popen(
                list(self.options.command),
                stdin=child_stdin,
                stdout=child_stdout,
                stderr=None,  # our own stderr: the server's messages pass through untouched
                process_group=0,  # see the module docstring: signals reach it through us
            )
        except BaseException:
            os.close(to_child)
            os.close(from_child)
            raise
        finally:
            os.close(child_stdin)
            os.close(child_stdout)
        self._pipes = (to_child, from_child)
        return process

    async def _relay(self) -> int:
        assert self._loop is not None and self._exited is not None and self._process is not None
        to_child, from_child = self._pipes
        child_in = self._child_in = _Writer(lambda: self._host_in)
        await self._connect_write(to_child, child_in)
        child_out = self._child_out = _Reader(self._from_server, self._server_eof)
        await self._connect_read(from_child, child_out)
        host_in = self._host_in = _Reader(self._from_host, self._host_eof)
        await self._connect_read(os.dup(self._stdin_fd), host_in)
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
            if self._stopping is not None:
                self._stopping.cancel()
            for reader in (child_out, host_in):
                if reader.transport is not None:
                    reader.transport.close()
            child_in.close()
        if returncode != 0:
            self.tap.fault("server-exit", f"{self.program} {describe_end(returncode)}")
        self.tap.closed("host-closed" if self._host_gone else "server-exited")
        return exit_status(returncode)

    def _from_host(self, data: bytes) -> None:
        assert self._child_in is not None
        self._child_in.write(data)  # first the server gets it, then the tap sees it
        self.tap.client_chunk(data)

    def _from_server(self, data: bytes) -> None:
        assert self._host_out is not None
        self._host_out.write(data)
        self.tap.server_chunk(data)

    def _host_eof(self) -> None:
        """The host closed stdin: the spec's way to end a stdio session."""
        self.tap.client_closed()
        self._host_gone = True
        if self._child_in is not None:
            self._child_in.close()  # the server reads EOF once what was sent is flushed
        if self._stopping is None and self._exited is not None and not self._exited.done():
            self._stopping = asyncio.ensure_future(self._stop_server())

    def _server_eof(self) -> None:
        assert self._child_out_done is not None
        self._child_out_done.set()

    async def _stop_server(self) -> None:
        """Wait `grace` for the server to exit on its own, then SIGTERM, then SIGKILL."""
        assert self._exited is not None
        options = self.options
        for sig, wait, after in (
            (signal.SIGTERM, options.grace, f"did not exit within {options.grace:g} s"),
            (signal.SIGKILL, options.term_grace, f"did not exit {options.term_grace:g} s"),
        ):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._exited), wait)
                return
            if sig is signal.SIGTERM:
                detail = f"{self.program} {after} of its stdin closing: sent SIGTERM"
                self.tap.fault("server-terminated", detail)
            else:
                detail = f"{self.program} {after} after SIGTERM: sent SIGKILL"
                self.tap.fault("server-killed", detail)
            self._send(sig)

    def _signal(self, sig: signal.Signals) -> None:
        """SIGINT or SIGTERM for mcp-tap: the server's to act on; its exit ends the relay."""
        self._send(sig)

    def _send(self, sig: signal.Signals) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)  # its group: what it started goes too, as in a shell

    def _watch_exit(self, process: subprocess.Popen[bytes]) -> None:
        """Resolve `_exited` from a thread that waits: any event loop, no child watcher."""
        loop, exited = self._loop, self._exited
        assert loop is not None and exited is not None

        def wait() -> None:
            returncode = process.wait()
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting
                loop.call_soon_threadsafe(_settle, exited, returncode)

        threading.Thread(target=wait, name="mcp-tap-child-wait", daemon=True).start()

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

        host_in = self._host_in = _Reader(data, end)
        await self._connect_read(os.dup(self._stdin_fd), host_in)
        try:
            await answered
        finally:
            if host_in.transport is not None:
                host_in.transport.close()
        self.tap.closed("not-started")
        return EXIT_NOT_STARTED

    # --- pipes -------------------------------------------------------------------------------

    async def _connect_read(self, fd: int, protocol: _Reader) -> None:
        assert self._loop is not None
        pipe = os.fdopen(fd, "rb", buffering=0)
        if stat.S_ISREG(os.fstat(fd).st_mode):  # a file is no pipe: the loop cannot poll it
            self._read_file_in_thread(pipe, protocol)
            return
        await self._loop.connect_read_pipe(lambda: protocol, pipe)

    async def _connect_write(self, fd: int, protocol: _Writer) -> None:
        assert self._loop is not None
        pipe = os.fdopen(fd, "wb", buffering=0)
        if stat.S_ISREG(os.fstat(fd).st_mode):
            protocol.connection_made(_FileTransport(pipe, protocol))
            return
        await self._loop.connect_write_pipe(lambda: protocol, pipe)

    def _read_file_in_thread(self, pipe: BinaryIO, protocol: _Reader) -> None:
        """stdin redirected from a file (`< requests.jsonl`): read it from a thread."""
        loop = self._loop
        assert loop is not None

        def read() -> None:
            with pipe:
                while chunk := pipe.read(65536):
                    loop.call_soon_threadsafe(protocol.data_received, chunk)
            loop.call_soon_threadsafe(protocol.connection_lost, None)

        thread = threading.Thread(target=read, name="mcp-tap-file-reader", daemon=True)
        thread.start()
        self._fallback_threads.append(thread)


class _FileTransport(asyncio.WriteTransport):
    """stdout redirected to a file: writes to a file never wait long, so they block."""

    def __init__(self, file: BinaryIO, protocol: _Writer) -> None:
        super().__init__()
        self._file = file
        self._protocol = protocol
        self._closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._file.write(data)

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if not self._closing:
            self._closing = True
            self._file.close()
            self._protocol.connection_lost(None)

    def get_write_buffer_size(self) -> int:
        return 0


def _widen(pipe: int) -> None:
    """Give a pipe room for a burst (Linux: 64 KiB by default): each read then takes up to
    what one read can hold, and the relay's per-read cost is spread over more messages."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux, or over the system's max
        fcntl.fcntl(pipe, fcntl.F_SETPIPE_SZ, PIPE_SIZE)


def _settle(future: asyncio.Future[int], value: int) -> None:
    if not future.done():
        future.set_result(value)


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
