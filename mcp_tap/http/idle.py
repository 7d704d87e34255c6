"""A client connection's keep-alive timeout, without a timer made and cancelled per request.

A keep-alive connection is closed once it has been idle for `--keep-alive-timeout` seconds.
Cancelling a loop timer when a request begins and making a new one when its response ends
costs two timer operations per request. `IdleTimer` instead keeps the timer it has and
notes when the connection went idle: when the timer fires it closes the connection, waits
out the rest of the idle time, or (a request under way) lapses until the next idle spell.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class IdleTimer:
    """Calls `expire` once the connection has been idle for `timeout` seconds."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, timeout: float, expire: Callable[[], None]
    ) -> None:
        self._loop = loop
        self._timeout = timeout
        self._expire = expire
        self._timer: asyncio.TimerHandle | None = None
        self._idle_since: float | None = None  # None while a request is under way

    def start(self) -> None:
        """The connection is idle from now on."""
        self._idle_since = self._loop.time()
        if self._timer is None:
            self._timer = self._loop.call_later(self._timeout, self._fired)

    def busy(self) -> None:
        """A request began: the timer, if one is armed, lapses when it fires."""
        self._idle_since = None

    def cancel(self) -> None:
        """No more idle timing (the connection is closing or handed over)."""
        self._idle_since = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fired(self) -> None:
        self._timer = None
        if self._idle_since is None:
            return  # the next idle spell arms it again
        left = self._idle_since + self._timeout - self._loop.time()
        if left > 0:
            self._timer = self._loop.call_later(left, self._fired)
        else:
            self._expire()
