"""What the tracker answered lately: which request each event it handled belongs to.

The view asks the tracker which request an event answered rather than correlating it again.
The bus hands each subscriber a batch in turn, so the tracker has handled a whole batch
before the view asks about its first event: `RecentAnswers` keeps the answers in order, and
the view takes them in the same order. Each holds its event, so only a tracker a view asks
keeps a batch of them (`for_a_view`); any other keeps the last one only.
"""

from __future__ import annotations

from collections import deque

from mcp_tap.analysis.progress_stats import TrackedRequest
from mcp_tap.protocol.events import TapEvent

KEPT_ANSWERS = 1024  # answers a view's tracker keeps: more than a bus delivers at once


class RecentAnswers:
    """The requests the latest events were correlated with, taken in the order given."""

    def __init__(self, for_a_view: bool) -> None:
        self._answers: deque[tuple[TapEvent, TrackedRequest | None]] = deque(
            maxlen=KEPT_ANSWERS if for_a_view else 1
        )

    def give(self, event: TapEvent, request: TrackedRequest | None) -> None:
        self._answers.append((event, request))

    def take(self, event: TapEvent) -> TrackedRequest | None:
        """The answer for `event`; the answers for events before it are let go."""
        answers = self._answers
        while answers:
            seen, request = answers.popleft()
            if seen is event:
                return request
        return None
