"""A plain line printer: one line per message, fault and finding. No color, no terminal tricks."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from mcp_tap.events import (
    Direction,
    Fault,
    Finding,
    MessageKind,
    MessageSeen,
    TapEvent,
)

ARROWS = {Direction.CLIENT_TO_SERVER: "->", Direction.SERVER_TO_CLIENT: "<-"}


def describe(event: MessageSeen) -> str:
    """One line a person can read: time, arrow, session, kind, method or id, progress."""
    message = event.message
    session = (event.session_id or "-")[:8]
    parts = [f"{event.time:9.3f}", ARROWS[event.direction], session, message.kind.value]
    if message.method:
        parts.append(message.method)
    if message.id is not None:
        parts.append(f"id={json.dumps(message.id)}")
    if message.has_progress_token:
        parts.append(f"progressToken={json.dumps(message.progress_token)}")
    if message.method == "notifications/progress":
        params = message.payload.get("params") or {}
        total = params.get("total")
        parts.append(f"progress={params.get('progress')}" + (f"/{total}" if total is not None else ""))
        if params.get("message"):
            parts.append(repr(params["message"]))
    if message.kind is MessageKind.INVALID:
        parts.append(f"({message.problem})")
    if message.kind is MessageKind.ENDPOINT:
        parts.append(message.raw or "")
    return " ".join(parts)


class LinePrinter:
    """Subscriber that writes one plain line per message, fault and finding."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout

    def handle(self, event: TapEvent) -> None:
        if isinstance(event, MessageSeen):
            line = describe(event)
        elif isinstance(event, Fault):
            line = f"{event.time:9.3f} !! fault {event.kind}: {event.detail}"
        elif isinstance(event, Finding):
            line = f"{event.time:9.3f} !! {event.severity.value} {event.rule}: {event.detail}"
        else:
            return
        self.out.write(line + "\n")
        self.out.flush()

    def close(self) -> None:
        self.out.flush()
