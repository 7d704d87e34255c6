"""Transports for descriptors the event loop cannot poll, served by a thread each.

epoll refuses regular files and most character devices (`< /dev/null`, `< /dev/zero`,
`> /dev/null`), and uvloop aborts the whole process when handed one; a tty or a socket given
as stdin and stdout at once is one object read and written through two descriptors, which
uvloop's pipe transports do not survive either. So only a FIFO goes to the loop, and every
other descriptor is read or written by a thread doing plain blocking calls.

Back-pressure holds across the thread as it does on the loop: the reading thread hands one
chunk at a time to the loop and waits for it to be taken, and stops reading while it is
paused; the writing thread's queue pauses its protocol above `HIGH_WATER` bytes. However
fast a descriptor delivers (`/dev/zero`), memory stays bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections import deque
from typing import Any

CHUNK = 65536  # bytes one read asks for
HIGH_WATER = 1024 * 1024  # bytes queued for the writing thread before its protocol pauses
LOW_WATER = HIGH_WATER // 4  # ...and resumes


class ThreadReadTransport(asyncio.ReadTransport):
    """Reads `fd` (which it owns) from a thread into `protocol`, one chunk in flight at most."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, fd: int, protocol: asyncio.Protocol
    ) -> None:
        super().__init__()
        self._loop = loop
        self._fd = fd
        self._protocol = protocol
        self._may_read = threading.Event()
        self._may_read.set()
        self._closing = False
        self._lost = False
        with contextlib.suppress(OSError):
            os.set_blocking(fd, True)  # the thread waits in read(), not in a poll
        protocol.connection_made(self)
        self.thread = threading.Thread(target=self._run, name="mcp-tap-fd-reader", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        error: OSError | None = None
        try:
            while True:
                self._may_read.wait()
                if self._closing:
                    return
                try:
                    chunk = os.read(self._fd, CHUNK)
                except OSError as failure:  # EIO from a hung-up tty, a reset socket
                    error = failure
                    break
                if not chunk:
                    break
                taken = threading.Event()
                if not self._call(self._deliver, chunk, taken):
                    return
                taken.wait()  # one chunk in flight: the loop sets the pace, not the device
            self._call(self._end, error)
        finally:
            os.close(self._fd)

    def _call(self, callback: Any, *args: Any) -> bool:
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop is closed: nobody reads any more
            return False
        return True

    def _deliver(self, chunk: bytes, taken: threading.Event) -> None:
        try:
            if not self._closing:
                self._protocol.data_received(chunk)
        finally:
            taken.set()

    def _end(self, error: OSError | None) -> None:
        if self._closing:
            return
        self._closing = True
        if error is None:
            self._protocol.eof_received()
        self._connection_lost(error)

    def _connection_lost(self, error: Exception | None) -> None:
        if not self._lost:
            self._lost = True
            self._protocol.connection_lost(error)

    def pause_reading(self) -> None:
        self._may_read.clear()

    def resume_reading(self) -> None:
        self._may_read.set()

    def is_reading(self) -> bool:
        return self._may_read.is_set() and not self._closing

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        """Stop reading; the thread closes the descriptor once its current read returns."""
        if self._closing:
            return
        self._closing = True
        self._may_read.set()
        self._loop.call_soon(self._connection_lost, None)  # as the loop's own transports do


class ThreadWriteTransport(asyncio.WriteTransport):
    """Writes to `fd` (which it owns) from a thread; the protocol pauses while a lot waits."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, fd: int, protocol: asyncio.BaseProtocol
    ) -> None:
        super().__init__()
        self._loop = loop
        self._fd = fd
        self._protocol = protocol
        self._queue: deque[bytes] = deque()
        self._queued = 0  # bytes in _queue and in the write under way
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = False
        self._paused = False
        self._failed = False
        with contextlib.suppress(OSError):
            os.set_blocking(fd, True)
        protocol.connection_made(self)
        self.thread = threading.Thread(target=self._run, name="mcp-tap-fd-writer", daemon=True)
        self.thread.start()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or self._failed or not data:
            return
        data = bytes(data)
        with self._lock:
            self._queue.append(data)
            self._queued += len(data)
            full = self._queued > HIGH_WATER
        self._wake.set()
        if full and not self._paused:
            self._paused = True
            self._protocol.pause_writing()

    def _run(self) -> None:
        error: OSError | None = None
        try:
            while True:
                self._wake.wait()
                with self._lock:
                    data = self._queue.popleft() if self._queue else None
                    if data is None:
                        self._wake.clear()
                        if self._closing:
                            break
                        continue
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(self._fd, view) :]
                except OSError as failure:  # EPIPE: the reader went away
                    error = failure
                    break
                with self._lock:
                    self._queued -= len(data)
                    drained = self._queued <= LOW_WATER
                if drained and self._paused:
                    self._call(self._resume)
        finally:
            os.close(self._fd)
        self._call(self._finish, error)

    def _call(self, callback: Any, *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            self._loop.call_soon_threadsafe(callback, *args)

    def _resume(self) -> None:
        if self._paused:
            self._paused = False
            self._protocol.resume_writing()

    def _finish(self, error: OSError | None) -> None:
        self._failed = error is not None
        self._closing = True
        self._protocol.connection_lost(error)

    def is_closing(self) -> bool:
        return self._closing or self._failed

    def close(self) -> None:
        """Write what is queued, then close the descriptor and tell the protocol."""
        if not self._closing:
            self._closing = True
            self._wake.set()

    def get_write_buffer_size(self) -> int:
        return self._queued
