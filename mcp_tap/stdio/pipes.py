"""The relay's ends of its four pipes, as asyncio protocols, with back-pressure between them.

`PipeReader` hands each chunk a pipe delivers to a callback; `PipeWriter` writes to a pipe,
and while the pipe is full it pauses the reader that feeds it, so nothing piles up in memory.
Any descriptor a host or a shell may give works: pipes go to the event loop, anything else
(a file, `/dev/null`, a tty, a socket) to a thread of `threaded.py`, with the same
back-pressure.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import stat
import struct
import termios
import threading
from collections.abc import Callable
from typing import cast

from mcp_tap.stdio.threaded import ThreadReadTransport, ThreadWriteTransport

PIPE_SIZE = 1024 * 1024  # the unprivileged maximum (/proc/sys/fs/pipe-max-size)


class PipeReader(asyncio.Protocol):
    """Hands each chunk a pipe delivers to `on_data`, and its end to `on_end` (once)."""

    def __init__(self, on_data: Callable[[bytes], None], on_end: Callable[[], None]) -> None:
        self.on_data = on_data
        self.on_end = on_end
        self.transport: asyncio.ReadTransport | None = None
        self.ended = False
        self.fd: int | None = None  # the pipe's descriptor, when the loop polls it

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

    def waiting(self) -> bool:
        """Bytes sit in the pipe, not yet read: a burst is still crossing. (A read thread's
        descriptor is not asked: a file given as stdin would always say yes.)"""
        if self.fd is None or self.ended:
            return False
        try:
            (count,) = struct.unpack("i", fcntl.ioctl(self.fd, termios.FIONREAD, bytes(4)))
        except OSError:
            return False
        return bool(count > 0)

    def pause(self) -> None:
        """Stop reading until `resume` (the pipe this one feeds is full)."""
        if self.transport is not None and not self.ended:
            with contextlib.suppress(RuntimeError):  # already closing
                self.transport.pause_reading()

    def resume(self) -> None:
        """Read again."""
        if self.transport is not None and not self.ended:
            with contextlib.suppress(RuntimeError):
                self.transport.resume_reading()


class PipeWriter(asyncio.BaseProtocol):
    """A pipe written to; its back-pressure pauses the reader that feeds it."""

    def __init__(self, feeder: Callable[[], PipeReader | None]) -> None:
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

    def queued(self) -> bool:
        """Bytes written wait to go into the pipe (its reader is behind)."""
        transport = self.transport
        return transport is not None and transport.get_write_buffer_size() > 0

    @property
    def open(self) -> bool:
        """The pipe can still be written to."""
        return self.transport is not None and not self.transport.is_closing()

    def write(self, data: bytes) -> None:
        """Write `data`, or drop it if the pipe is closed."""
        if self.open:
            assert self.transport is not None
            self.transport.write(data)

    def close(self) -> None:
        """Close once what was written has been flushed."""
        if self.open:
            assert self.transport is not None
            self.transport.close()


async def connect_read(
    loop: asyncio.AbstractEventLoop, fd: int, protocol: PipeReader
) -> threading.Thread | None:
    """Read `fd` (which `protocol` then owns) into `protocol`; the thread reading it, when
    the loop cannot poll it (anything but a FIFO: see `threaded.py`)."""
    if not _is_fifo(fd):
        return ThreadReadTransport(loop, fd, protocol).thread
    await loop.connect_read_pipe(lambda: protocol, os.fdopen(fd, "rb", buffering=0))
    protocol.fd = fd
    return None


async def connect_write(loop: asyncio.AbstractEventLoop, fd: int, protocol: PipeWriter) -> None:
    """Make `protocol` the writer of `fd`, which it then owns."""
    if not _is_fifo(fd):
        ThreadWriteTransport(loop, fd, protocol)
        return
    await loop.connect_write_pipe(lambda: protocol, os.fdopen(fd, "wb", buffering=0))


def _is_fifo(fd: int) -> bool:
    """A pipe, which the loop polls (the common case: what hosts give a server)."""
    try:
        return stat.S_ISFIFO(os.fstat(fd).st_mode)
    except OSError:
        return False


def widen(pipe: int) -> None:
    """Give a pipe room for a burst (Linux: 64 KiB by default): each read then takes up to
    what one read can hold, and the relay's per-read cost is spread over more messages."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux, or over the system's max
        fcntl.fcntl(pipe, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
