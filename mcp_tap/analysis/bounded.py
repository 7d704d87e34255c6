"""What the live judges remember, bounded: `--judge-memory N`.

A judge keeps some state per session, exchange and request id (the revision negotiated, the
requests waiting for an answer, the ids a session used, the definitions it listed). A long
proxy run sees sessions without end, so each such table forgets its oldest entry past N. A
forgotten entry only costs findings (an answer to a forgotten request is not judged), never
a false one.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

DEFAULT_JUDGE_MEMORY = 1024  # sessions, exchanges and request ids kept by each table


class Bounded(OrderedDict[Any, Any]):
    """A mapping that forgets its oldest entries past `limit` (false negatives only)."""

    def __init__(self, limit: int = DEFAULT_JUDGE_MEMORY) -> None:
        super().__init__()
        self.limit = limit

    def put(self, key: Any, value: Any) -> None:
        """Set `key`, newest last, and forget the oldest entry when full."""
        self[key] = value
        self.move_to_end(key)
        if len(self) > self.limit:
            self.popitem(last=False)
