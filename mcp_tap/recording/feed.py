"""`RecordFeed`: events handed to the writer process by the event loop itself, no thread.

A thread between the loop and the writer process's pipe would cost the forwarding more than
the work it does: each time it wakes it must take the GIL from the loop, and on a busy
machine (a client, a server and mcp-tap on two cores) the loop then waits for the scheduler
to run that thread, for as long as milliseconds, in the middle of a burst it is forwarding.
Turning events into records costs a few microseconds an event (`records.py`), so the loop
does it, in its own time:

- `handle` turns the event into its record (`records.safe_record`) and appends it: the bus
  hands the feed a batch of events just after the judges, while the events are still in
  the CPU's caches (20 ms later, in the feed's own turn, they are not). The first record of
  a batch schedules the work `GATHER` later, so a burst of exchanges costs one frame and
  one write, not one each;
- the work encodes `FRAME_EVENTS` records a frame and writes frames to the pipe, which is
  non-blocking: it stops after `SLICE` seconds and goes on at the next loop turn, and when
  the pipe is full it waits for the loop to say it has room. Forwarding never waits for it;
- frames the pipe has no room for wait in memory, as the events before them: a writer that
  falls behind a burst costs memory, never a dropped event;
- while the carrier says a burst is crossing (`hold`), nothing is sent, for up to `MAX_HOLD`:
  the writer process would wake and take a core from the client, the server or the relay
  in the middle of it. It catches up after;
- without a running loop (a test, a command reading a file), each event is written at once.

`close` writes whatever is left, waiting on the pipe if it must.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mcp_tap.protocol.events import TapEvent
from mcp_tap.recording.process import WriterProcess
from mcp_tap.recording.records import encode_records, safe_record

log = logging.getLogger(__name__)

GATHER = 0.02  # seconds events wait to be sent with the ones that follow them
HOLD_CHECK = 0.002  # seconds between two looks at a burst that holds the events back
MAX_HOLD = 1.0  # seconds a burst may hold them back: a stream that never ends is recorded too
SLICE = 0.0002  # seconds of encoding and writing per loop turn
FRAME_EVENTS = 64  # events per record frame


class RecordFeed:
    """Sends events, as record frames, to `process` (see the module docstring)."""

    def __init__(self, process: WriterProcess, path: Path) -> None:
        """`path`: the recording's, for the log line of a writer process that is gone."""
        self._process = process
        self._path = path
        self._fd = process.records_fd
        os.set_blocking(self._fd, False)
        self._records: deque[tuple[Any, ...]] = deque()
        self._frames: deque[memoryview] = deque()  # encoded, not yet (wholly) written
        self._loop: asyncio.AbstractEventLoop | None = None
        self._scheduled = False  # a call of `_work` is due (a timer, or the pipe's room)
        self.hold: Callable[[], bool] = lambda: False  # a burst is crossing: wait
        self._held_since: float | None = None  # when the hold began, until the queue empties
        self._closed = False
        self.error: OSError | None = None  # the pipe broke: the writer process is gone

    def handle(self, event: TapEvent) -> None:
        """Queue `event`'s record; on a running loop, the loop writes it later."""
        if self.error is not None:
            return
        self._records.append(safe_record(event))
        if self._scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._send_all()
            return
        self._loop = loop
        self._scheduled = True
        loop.call_later(GATHER, self._work)

    def close(self) -> OSError | None:
        """Send everything queued (blocking), end the pipe and wait for the writer process;
        why the recording stopped early, if it did."""
        self._closed = True  # a timer still due finds nothing to do: the pipe is ended
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_writer(self._fd)
        self._send_all()
        return self._process.finish() or self.error

    def _work(self) -> None:
        self._scheduled = False
        if self._closed:
            return
        assert self._loop is not None
        if self.hold():
            now = time.monotonic()
            if self._held_since is None:
                self._held_since = now
            if now - self._held_since < MAX_HOLD:
                self._scheduled = True
                self._loop.call_later(HOLD_CHECK, self._work)
                return
            # held for MAX_HOLD: what waits goes now, all of it, before the next hold
        else:
            self._held_since = None
        deadline = time.perf_counter() + SLICE
        while self.error is None and (self._frames or self._records):
            if not self._frames:
                self._encode_frame()
            if not self._write_frames():
                self._scheduled = True
                self._loop.add_writer(self._fd, self._writable)
                return
            if time.perf_counter() >= deadline and (self._frames or self._records):
                self._scheduled = True
                self._loop.call_soon(self._work)
                return
        self._held_since = None  # all sent: a burst may hold the next events again

    def _writable(self) -> None:
        assert self._loop is not None
        self._loop.remove_writer(self._fd)
        self._work()

    def _encode_frame(self) -> None:
        count = min(FRAME_EVENTS, len(self._records))
        frame = encode_records([self._records.popleft() for _ in range(count)])
        self._frames.append(memoryview(frame))

    def _write_frames(self) -> bool:
        """Write queued frames until the pipe is full (False) or they are all written."""
        frames = self._frames
        while frames:
            try:
                written = os.write(self._fd, frames[0])
            except BlockingIOError:
                return False
            except OSError as error:  # the writer process is gone: nothing more can be written
                self._fail(error)
                return True
            if written < len(frames[0]):
                frames[0] = frames[0][written:]
                return False
            frames.popleft()
        return True

    def _send_all(self) -> None:
        """Encode and write everything queued, waiting on the pipe as long as it takes."""
        os.set_blocking(self._fd, True)
        try:
            while self.error is None and (self._frames or self._records):
                if not self._frames:
                    self._encode_frame()
                self._write_frames()
        finally:
            os.set_blocking(self._fd, False)

    def _fail(self, error: OSError) -> None:
        log.error("recording to %s stopped: %s", self._path, error)
        self.error = error
        self._records.clear()
        self._frames.clear()
