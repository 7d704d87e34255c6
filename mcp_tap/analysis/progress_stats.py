"""What the progress tracker knows about requests and progress streams, as plain data.

The tracker (`tracker.py`) fills these in; the view and the summary only read them.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

from mcp_tap.protocol.events import Direction, MessageSeen

STATELESS_REVISION = "2026-07-28"  # from here on: no session, closing the stream cancels
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


class RequestState(enum.StrEnum):
    """Where a tracked request is in its life."""

    ACTIVE = "active"
    TASK = "task"  # answered with CreateTaskResult: its progress token lives until the task ends
    COMPLETED = "completed"
    FAILED = "failed"  # answered with a JSON-RPC error, or its task failed
    CANCELLED = "cancelled"
    ABANDONED = "abandoned"  # its stream ended without a response (2026-07-28), or HTTP failed


LIVE_STATES = frozenset({RequestState.ACTIVE, RequestState.TASK})


@dataclass(eq=False)
class ProgressStats:
    """Everything known about one progress token's stream of notifications."""

    token: str | int
    session_id: str | None
    request_id: str | int | None
    method: str
    label: str | None  # the tool, prompt or resource the request names
    requested_at: float
    exchange_id: int | None = None
    count: int = 0
    first_progress: float | None = None
    last_progress: float | None = None
    first_at: float | None = None
    last_at: float | None = None
    total: float | None = None
    message: str | None = None
    longest_gap: float = 0.0  # seconds between two consecutive notifications
    outcome: RequestState = RequestState.ACTIVE
    ended_at: float | None = None
    late: int = 0  # notifications that arrived after the request ended
    tool_error: bool = False  # completed with a result saying isError: true

    @property
    def time_to_first(self) -> float | None:
        """Seconds from the request to its first progress notification."""
        return None if self.first_at is None else self.first_at - self.requested_at

    @property
    def duration(self) -> float | None:
        """Seconds from the request to its end, None while it runs."""
        return None if self.ended_at is None else self.ended_at - self.requested_at

    @property
    def rate(self) -> float | None:
        """Progress units per second, over the notifications seen so far."""
        first, last = self.first_progress, self.last_progress
        if self.count >= 2 and self.first_at is not None and self.last_at is not None:
            span = self.last_at - self.first_at
            if span > 0 and first is not None and last is not None:
                return (last - first) / span
        if self.count == 1 and self.first_at is not None and last:
            span = self.first_at - self.requested_at  # one point: assume the work began at 0
            return last / span if span > 0 else None
        return None

    @property
    def eta(self) -> float | None:
        """Seconds still to go at the pace so far, when a total is known."""
        rate = self.rate
        if self.total is None or self.last_progress is None or not rate or rate <= 0:
            return None
        return max(0.0, (self.total - self.last_progress) / rate)

    @property
    def fraction(self) -> float | None:
        """Progress as a fraction of the total (clamped to 0..1), None without a total."""
        if self.total is None or self.last_progress is None or self.total <= 0:
            return None
        return min(1.0, max(0.0, self.last_progress / self.total))


@dataclass(eq=False)
class TrackedRequest:
    """One JSON-RPC request the tap saw, and what became of it."""

    session_id: str | None
    request_id: str | int | None
    method: str
    label: str | None
    direction: Direction
    exchange_id: int
    sent_at: float
    revision: str | None
    token: Any = None
    has_token: bool = False
    state: RequestState = RequestState.ACTIVE
    ended_at: float | None = None
    answered_at: float | None = None
    task_id: str | None = None
    progress: ProgressStats | None = None
    tool_error: bool = False  # answered with a result saying isError: true

    @property
    def live(self) -> bool:
        """True while the request may still be answered or report progress."""
        return self.state in LIVE_STATES

    @property
    def stateless(self) -> bool:
        """True for 2026-07-28 and later, where closing the response stream cancels."""
        return self.revision is not None and revision_at_least(self.revision, STATELESS_REVISION)

    @property
    def latency(self) -> float | None:
        """Seconds from the request to its response, None while unanswered."""
        return None if self.answered_at is None else self.answered_at - self.sent_at


def revision_at_least(revision: str, floor: str) -> bool:
    """Compare two dated revisions; anything not shaped like a date is not 'at least'."""
    return bool(_DATE.match(revision)) and revision >= floor


def typed_key(value: str | int) -> tuple[str, str | int]:
    """A dict key that keeps `"1"` and `1` apart, as the spec requires."""
    return ("s" if isinstance(value, str) else "i", value)


def is_valid_token(value: Any) -> TypeGuard[str | int]:
    """A progress token (or request id) is a string or an integer; bool and float are not."""
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def is_number(value: Any) -> TypeGuard[float]:
    """A JSON number (int or float, never bool)."""
    kind = type(value)
    if kind is float:  # what JSON gives, tested first: every notification asks three times
        return math.isfinite(value)
    if kind is int:
        return True
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def coerced_twin(value: str | int) -> str | int | None:
    """The other spelling an SDK would coerce a token to (`"1"` <-> `1`), if any."""
    if isinstance(value, int):
        return str(value)
    return int(value) if value.isascii() and value.lstrip("-").isdigit() else None


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The `fraction` quantile of `values` (nearest rank), None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, math.ceil(fraction * len(ordered)) - 1)
    return ordered[min(rank, len(ordered) - 1)]


def request_label(method: str, params: Any) -> str | None:
    """The tool, prompt or resource a request names, for people."""
    if not isinstance(params, dict):
        return None
    value = params.get("uri") if method == "resources/read" else params.get("name")
    return value if isinstance(value, str) else None


def request_params(event: MessageSeen) -> dict[str, Any]:
    """A message's `params` object, or {} when it has none (or not an object)."""
    params = event.message.payload.get("params")
    return params if isinstance(params, dict) else {}
