"""Frame pacing for views: render at a bounded rate, never on the forwarding path itself."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class FramePacer:
    """Calls `render` at most once per `interval` after `poke()`, never from inside `poke`.

    On an event loop the frame runs from a loop timer; without one (reading a file) it runs
    inline, but still no more often than the interval, and `close()` renders the rest.
    """

    def __init__(self, render: Callable[[], None], interval: float) -> None:
        self._render = render
        self._interval = interval
        self._timer: asyncio.TimerHandle | None = None
        self._last = 0.0
        self._rendering = False

    @property
    def pending(self) -> bool:
        """True when a frame is already scheduled."""
        return self._timer is not None

    def poke(self) -> None:
        """Ask for a frame soon."""
        if self._timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            now = time.monotonic()
            # A frame that asks for the next one (bars pulsing) must not draw it inline: on a
            # slow machine, where a frame outlasts the interval, that would recurse.
            if now - self._last >= self._interval and not self._rendering:
                self._last = now
                self._rendering = True
                try:
                    self._render()
                finally:
                    self._rendering = False
            return
        self._timer = loop.call_later(self._interval, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._last = time.monotonic()
        self._render()

    def cancel(self) -> None:
        """Drop a scheduled frame (the caller renders what is left itself)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
