"""`Pacer`: a carrier's writes in order, some of them slowed to a few bytes at a time (`slow`).

Sans-IO: the carrier gives it a `schedule(seconds, callback)` (its event loop's `call_later`).
While a slowed message trickles out, whatever comes after it waits its turn, so the bytes
reach the client in the order the server sent them; when nothing is slowed, each write and
each step runs at once, as if there were no pacer.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

Schedule = Callable[[float, Callable[[], None]], object]


class Pacer:
    """Steps run in order, each when the pause after the one before has passed."""

    def __init__(self, schedule: Schedule) -> None:
        self._schedule = schedule
        self._steps: deque[tuple[Callable[[], None], float]] = deque()
        self._waiting = False
        self._running = False
        self._stopped = False

    def write(
        self, write: Callable[[bytes], None], data: bytes, size: int = 0, every: float = 0.0
    ) -> None:
        """`write(data)`, or with `size`, `write` `size` bytes at a time, `every` s apart."""
        if not data:
            return
        if size <= 0 or len(data) <= size:
            self.then(lambda: write(data))
            return
        pieces = [data[i : i + size] for i in range(0, len(data), size)]
        for index, piece in enumerate(pieces):
            pause = every if index < len(pieces) - 1 else 0.0

            def step(piece: bytes = piece) -> None:
                write(piece)

            self._steps.append((step, pause))
        self._run()

    def then(self, step: Callable[[], None]) -> None:
        """Run `step` once everything written before it has gone."""
        self._steps.append((step, 0.0))
        self._run()

    @property
    def busy(self) -> bool:
        """Whether steps are waiting for a pause to pass."""
        return bool(self._steps) or self._waiting

    def stop(self) -> None:
        """Nothing more is run: the client has gone."""
        self._stopped = True
        self._steps.clear()

    def _run(self) -> None:
        if self._waiting or self._running or self._stopped:
            return  # a step running now, or a pause, runs the rest when it ends
        self._running = True
        try:
            while self._steps and not self._stopped:
                step, pause = self._steps.popleft()
                step()
                if pause > 0 and self._steps:
                    self._waiting = True
                    self._schedule(pause, self._resume)
                    return
        finally:
            self._running = False

    def _resume(self) -> None:
        self._waiting = False
        self._run()
