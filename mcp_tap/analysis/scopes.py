"""Where the lifecycle checks keep their state: a message's session, or its exchange without one.

A handshake session over HTTP begins on the exchange that carries `initialize` (no session id
yet) and is named by the `Mcp-Session-Id` its answer brings: the exchange's state becomes the
session's the first time a message names it. A stdio session is one exchange; a 2026-07-28
POST, sessionless, is its own scope. `finding_at` makes the finding a message earns.
"""

from __future__ import annotations

import functools
from typing import Any, Generic, TypeVar

from mcp_tap.analysis.bounded import DEFAULT_JUDGE_MEMORY, Bounded
from mcp_tap.analysis.revisions import SessionKey, session_key
from mcp_tap.analysis.rules import Rule
from mcp_tap.protocol.events import Direction, Finding, MessageSeen, Severity
from mcp_tap.protocol.jsonrpc import META_PROTOCOL_VERSION

MODERN_SINCE = "2026-07-28"  # the first revision without a handshake: versions are dates

T = TypeVar("T")
TypedId = tuple[str, Any]
"""An id with its type: "1" and 1 are different ids."""


class ScopeTable(Generic[T]):
    """A state per session (or per sessionless exchange), bounded."""

    def __init__(self, memory: int = DEFAULT_JUDGE_MEMORY) -> None:
        self._states = Bounded(memory)

    def get(self, event: MessageSeen) -> T | None:
        """The state of `event`'s scope; an initialize answer hands its exchange's on."""
        key = session_key(event)
        state: T | None = self._states.get(key)
        if state is None and event.session_id is not None:
            state = self._states.pop((None, event.exchange_id), None)
            if state is not None:
                self._states.put(key, state)
        return state

    def put(self, event: MessageSeen, state: T) -> T:
        """Make `state` the state of `event`'s scope (a new handshake replaces the old)."""
        key: SessionKey = session_key(event)
        self._states.put(key, state)
        return state


def typed(value: Any) -> TypedId:
    """`value` keyed with its type."""
    return (type(value).__name__, value)


def opposite(direction: Direction) -> Direction:
    """The other way."""
    if direction is Direction.CLIENT_TO_SERVER:
        return Direction.SERVER_TO_CLIENT
    return Direction.CLIENT_TO_SERVER


def modern_version(payload: Any) -> str | None:
    """The 2026-07-28-or-later version a request or notification names in `_meta`, if any."""
    params = payload.get("params") if isinstance(payload, dict) else None
    meta = params.get("_meta") if isinstance(params, dict) else None
    version = meta.get(META_PROTOCOL_VERSION) if isinstance(meta, dict) else None
    if isinstance(version, str) and is_modern(version):
        return version
    return None


def is_modern(version: str) -> bool:
    """Whether a protocol version has no handshake (2026-07-28 and later)."""
    return len(version) == len(MODERN_SINCE) and _is_modern_date(version)


@functools.lru_cache(maxsize=64)  # three judges ask of every request's version; dates are short
def _is_modern_date(version: str) -> bool:
    return is_date(version) and version >= MODERN_SINCE


def is_date(version: str) -> bool:
    """Whether a version is shaped YYYY-MM-DD, as every MCP revision is (so they sort)."""
    parts = version.split("-")
    return len(parts) == 3 and [len(p) for p in parts] == [4, 2, 2] and "".join(parts).isdigit()


def finding_at(
    event: MessageSeen,
    rule: Rule,
    detail: str,
    severity: Severity | None = None,
    **extra: Any,
) -> Finding:
    """The finding `event` earns under `rule`."""
    return Finding(
        event.time,
        severity or rule.severity,
        rule.slug,
        detail,
        exchange_id=event.exchange_id,
        session_id=event.session_id,
        request_id=event.message.id,
        extra=extra,
    )
