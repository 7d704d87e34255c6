"""The era probe: a `server/discover` that a handshake-era server refuses.

A 2026-07-28 client (the `mcp` 2.x `Client(url)` by default) opens with `server/discover`;
refused, with a JSON-RPC error or a bare 4xx, it falls back to `initialize`, as 2026-07-28
version discovery says. That pair is how a modern client meets an older server, not a
failure. `ProbeWatch` keeps each refusal until a fallback comes, so the tracker reports the
pair as one info finding.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from mcp_tap.analysis.progress_stats import TrackedRequest
from mcp_tap.protocol.events import Direction

PROBE_METHOD = "server/discover"
FALLBACK_METHOD = "initialize"
KEPT_PROBES = 64  # refusals waiting for their fallback; clients send it at once


@dataclass(frozen=True, slots=True)
class RefusedProbe:
    """A refused probe and how it was refused, in words."""

    request: TrackedRequest
    how: str  # "HTTP 400, -32601 Method not found: server/discover"


def refusal_words(status: int | None, payload: dict[str, Any] | None) -> str:
    """How a request was refused: its HTTP status, then the JSON-RPC error if there was one."""
    parts = [f"HTTP {status}"] if status is not None else []
    error = payload.get("error") if payload is not None else None
    if isinstance(error, dict):
        code, text = error.get("code"), error.get("message")
        parts.append(" ".join(str(p) for p in (code, text) if p is not None) or "an error")
    return ", ".join(parts) or "refused"


class ProbeWatch:
    """Refused probes, oldest first, until the client falls back to `initialize`."""

    def __init__(self) -> None:
        self._pending: deque[RefusedProbe] = deque(maxlen=KEPT_PROBES)

    def error(self, request: TrackedRequest, status: int | None, payload: dict[str, Any]) -> None:
        """`request` was answered with a JSON-RPC error: a refusal if it is a probe."""
        if request.method == PROBE_METHOD:
            self._pending.append(RefusedProbe(request, refusal_words(status, payload)))

    def bare_refusal(self, request: TrackedRequest, status: int) -> bool:
        """True when an HTTP error with no JSON-RPC body refuses a probe: a 4xx does."""
        if request.method != PROBE_METHOD or status >= 500:
            return False
        self._pending.append(RefusedProbe(request, refusal_words(status, None)))
        return True

    def fallback(self, request: TrackedRequest) -> RefusedProbe | None:
        """The refused probe that a client's `initialize` falls back from, if any."""
        if request.method != FALLBACK_METHOD or request.direction is not Direction.CLIENT_TO_SERVER:
            return None
        return self._pending.popleft() if self._pending else None
