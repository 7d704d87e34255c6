"""Where the views' text goes: written from a thread, so a reader that stops never stalls us.

`mcp-tap proxy | less` with the pager waiting on a key: the pipe fills, and a `write` on it
blocks until the reader takes something. Done on the event loop, that would stop forwarding
too. `ViewOutput` hands the text to a writer thread
instead; while the reader is away at most `MAX_BACKLOG` characters wait, the rest is dropped
and counted, and the count is written once the reader is back. The recording keeps every
event either way. Text for an in-memory stream (no file descriptor) is written at once.
"""

from __future__ import annotations

import threading
from typing import IO

MAX_BACKLOG = 4_000_000  # characters waiting for a reader that is not reading
CLOSE_WAIT = 2.0  # seconds `close` waits for a reader that has gone quiet


class ViewOutput:
    """Text to `file`, never blocking the caller once `file` is a real file descriptor."""

    def __init__(self, file: IO[str], max_backlog: int = MAX_BACKLOG) -> None:
        self.file = file
        self.broken = False  # the reader went away (a closed pipe): nothing more is written
        self._max_backlog = max_backlog
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self._size = 0
        self._dropped_lines = 0
        self._closing = False
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        if _has_descriptor(file):
            self._thread = threading.Thread(target=self._run, name="mcp-tap-view", daemon=True)
            self._thread.start()

    def write(self, text: str) -> None:
        """Queue `text` (whole lines) for the file; drop it if too much is waiting already."""
        if self.broken or not text:
            return
        if self._thread is None:
            self._write_now([text])
            return
        with self._lock:
            if self._size + len(text) > self._max_backlog:
                self._dropped_lines += text.count("\n")
                return
            self._pending.append(text)
            self._size += len(text)
        self._wake.set()

    def close(self) -> None:
        """Write what waits, giving a reader that has gone quiet `CLOSE_WAIT` seconds."""
        if self._thread is None:
            return
        with self._lock:
            self._closing = True
        self._wake.set()
        self._thread.join(CLOSE_WAIT)

    def _run(self) -> None:
        while not self.broken:
            self._wake.wait()
            with self._lock:
                self._wake.clear()
                texts, self._pending, self._size = self._pending, [], 0
                dropped, self._dropped_lines = self._dropped_lines, 0
                closing = self._closing
            if dropped:  # they were dropped after everything taken here, before what follows
                texts.append(f"… {dropped} lines not shown: the output was not being read\n")
            if texts:
                self._write_now(texts)
            if closing:
                return

    def _write_now(self, texts: list[str]) -> None:
        try:
            self.file.write("".join(texts))
            self.file.flush()
        except (BrokenPipeError, ValueError):  # the reader left, or the file was closed
            self.broken = True


def _has_descriptor(file: IO[str]) -> bool:
    try:
        file.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
        return False
    return True
