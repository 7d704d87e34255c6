"""A replay's verdicts, summarised as they are produced, so memory does not grow with calls.

Every verdict is counted; the first `limit` divergent requests, in recorded order, are kept
whole (what `replay` prints, its JSON, the pytest fixture's message), and the rest only
counted. `limit=None` keeps every verdict, matched or not, for the outputs that list each
request (`--junit`, `--report`) and for callers that read them all.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Sequence
from itertools import count
from typing import overload

from mcp_tap.replay.compare import CallVerdict

DEFAULT_MAX_DIFFS = 100  # divergent requests kept and printed; the rest are counted


class Verdicts(Sequence[CallVerdict]):
    """The verdicts kept, in recorded order, with the counts of all of them."""

    def __init__(self, limit: int | None = DEFAULT_MAX_DIFFS) -> None:
        self.limit = limit
        self.requests = 0  # verdicts given
        self.diverged = 0  # of those, the divergent ones
        # (-place, tie, verdict): a max-heap on the place, so the latest kept goes first
        self._heap: list[tuple[int, int, CallVerdict]] = []
        self._tie = count()
        self._sorted: list[CallVerdict] | None = None

    @classmethod
    def of(cls, verdicts: Iterable[CallVerdict]) -> Verdicts:
        """Every verdict of `verdicts` kept, in the order given."""
        kept = cls(limit=None)
        for place, verdict in enumerate(verdicts):
            kept.add(place, verdict)
        return kept

    def add(self, place: int, verdict: CallVerdict) -> None:
        """The verdict on the recorded request at `place` (its index among the requests)."""
        self.requests += 1
        if not verdict.ok:
            self.diverged += 1
        elif self.limit is not None:
            return
        if self.limit is not None and len(self._heap) >= self.limit:
            if not self._heap or -self._heap[0][0] < place:
                return  # a later request than every kept one
            heapq.heapreplace(self._heap, (-place, next(self._tie), verdict))
        else:
            heapq.heappush(self._heap, (-place, next(self._tie), verdict))
        self._sorted = None

    @property
    def ok(self) -> bool:
        return self.diverged == 0

    @property
    def left_out(self) -> int:
        """Divergent requests counted but not kept."""
        return self.diverged - sum(not v.ok for v in self)

    def _kept(self) -> list[CallVerdict]:
        if self._sorted is None:
            self._sorted = [v for _, _, v in sorted(self._heap, key=lambda x: (-x[0], x[1]))]
        return self._sorted

    @overload
    def __getitem__(self, index: int) -> CallVerdict: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[CallVerdict]: ...
    def __getitem__(self, index: int | slice) -> CallVerdict | Sequence[CallVerdict]:
        return self._kept()[index]

    def __len__(self) -> int:
        return len(self._heap)

    def __iter__(self) -> Iterator[CallVerdict]:
        return iter(self._kept())


def summary(verdicts: Sequence[CallVerdict]) -> Verdicts:
    """`verdicts` as a summary: itself, or a plain list kept whole."""
    return verdicts if isinstance(verdicts, Verdicts) else Verdicts.of(verdicts)
