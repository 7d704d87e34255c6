"""Live updates to each open page, through a bounded queue per browser.

The store calls `Feed.push` on the forwarding path's loop turn: it appends to every page's
queue and wakes its event stream, and never waits. A page whose queue is full (a slow or
stalled browser) loses the update and is told how many it lost, so it can offer a reload.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import orjson

DEFAULT_QUEUE = 10_000  # updates one page may fall behind before they are skipped
PING_SECONDS = 15.0  # a comment line keeps idle connections (and their proxies) open


class PageQueue:
    """One browser's pending updates."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: deque[dict[str, Any]] = deque()
        self.skipped = 0  # updates dropped since the page connected
        self.reported = 0  # of those, how many the page was told about
        self.wake = asyncio.Event()

    def put(self, update: dict[str, Any]) -> None:
        if len(self.items) >= self.size:
            self.skipped += 1
        else:
            self.items.append(update)
        self.wake.set()


class Feed:
    """Fans the store's updates out to the open pages (module docstring)."""

    def __init__(self, queue_size: int = DEFAULT_QUEUE) -> None:
        self.queue_size = queue_size
        self.pages: set[PageQueue] = set()
        self.closing = asyncio.Event()

    def push(self, update: dict[str, Any]) -> None:
        """Queue `update` for every page; cheap and never blocking."""
        for page in self.pages:
            page.put(update)

    def close(self) -> None:
        """End every event stream (the server is stopping)."""
        self.closing.set()
        for page in self.pages:
            page.wake.set()

    async def stream(self) -> AsyncIterator[bytes]:
        """One page's server-sent events: batches of updates, and the count of skipped ones."""
        page = PageQueue(self.queue_size)
        self.pages.add(page)
        try:
            yield b"retry: 2000\nevent: hello\ndata: {}\n\n"
            while not self.closing.is_set():
                try:
                    async with asyncio.timeout(PING_SECONDS):
                        await page.wake.wait()
                except TimeoutError:
                    yield b": ping\n\n"
                    continue
                page.wake.clear()
                batch = list(page.items)
                page.items.clear()
                if batch:
                    yield b"data: " + orjson.dumps(batch) + b"\n\n"
                if page.skipped != page.reported:
                    page.reported = page.skipped
                    yield b"event: skipped\ndata: " + orjson.dumps(page.skipped) + b"\n\n"
        finally:
            self.pages.discard(page)
