"""A recording as JSON lines: one object per event, exactly what `mcp-tap proxy --jsonl` prints."""

from __future__ import annotations

from collections.abc import Iterable

from mcp_tap.protocol.codec import event_to_json
from mcp_tap.protocol.events import TapEvent


def to_jsonl(events: Iterable[TapEvent]) -> str:
    """Every event as one line of JSON (`codec.event_to_json`), each ending in a newline."""
    return "".join(event_to_json(event) + "\n" for event in events)
