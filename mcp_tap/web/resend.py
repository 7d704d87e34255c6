"""The one way the web view sends a call again: a `Resender` the command hands it.

The web view knows nothing of carriers or replay; the command gives it an object that takes
the events kept so far, a call's number among them and new params, and returns the new
call. The page gets the recorded answer, the new one and replay's diff between them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from mcp_tap.analysis.calls import VOLATILE_OUTCOME, Call
from mcp_tap.analysis.diff import MISSING, Change, json_diff
from mcp_tap.protocol.events import TapEvent


class ResendError(Exception):
    """The call cannot be sent again (no target, no server running, a missing secret)."""


class Resender(Protocol):
    """Sends recorded call `number` again with `params`, to the live target."""

    async def resend(self, events: Sequence[TapEvent], number: int, params: Any) -> Call: ...


def answer(payload: Any) -> dict[str, Any]:
    """The comparable part of a response: its result or its error."""
    if not isinstance(payload, dict):
        return {}
    return {k: v for k, v in payload.items() if k in ("result", "error")}


def comparison(recorded: Any, received: Call) -> dict[str, Any]:
    """The recorded answer beside the new one, with each change between them."""
    new = received.response.payload if received.response is not None else None
    before, after = answer(recorded), answer(new)
    return {
        "recorded": before,
        "received": after if new is not None else None,
        "changes": [_change(c) for c in json_diff(before, after, VOLATILE_OUTCOME)],
        "progress": len(received.progress),
    }


def _change(change: Change) -> dict[str, Any]:
    return {
        "path": change.path or "(the whole answer)",
        "kind": change.kind,
        "recorded": None if change.recorded is MISSING else change.recorded,
        "received": None if change.received is MISSING else change.received,
    }
