"""What `show` prints about a recording besides the live view: its header, and one exchange whole.

Data in, renderables out, like the rest of the view: the command decides where they go.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.json import JSON
from rich.table import Table
from rich.text import Text

from mcp_tap.protocol.events import (
    ExchangeClosed,
    ExchangeOpened,
    Fault,
    Finding,
    Headers,
    MessageSeen,
    ResponseStarted,
    TapEvent,
)
from mcp_tap.view.format import seconds


def recording_header(path: str, header: Mapping[str, Any], events: Sequence[TapEvent]) -> Text:
    """One line: the file, its target, when it started, sessions, exchanges and duration."""
    sessions = {e.session_id for e in events if isinstance(e, MessageSeen) and e.session_id}
    exchanges = {e.exchange_id for e in events if isinstance(e, ExchangeOpened)}
    duration = max((e.time for e in events), default=0.0)
    text = Text.assemble((path, "bold"), ": ")
    facts = [
        f"target {header.get('target', '?')}",
        f"started {header.get('started', '?')}",
        f"{len(sessions)} sessions",
        f"{len(exchanges)} exchanges",
        f"{seconds(duration)}",
    ]
    text.append(" · ".join(facts), style="dim")
    return text


def exchange_detail(exchange_id: int, events: Sequence[TapEvent]) -> RenderableType:
    """Every event of one exchange with its time: headers, bodies, messages, findings."""
    parts: list[RenderableType] = []
    for event in events:
        if getattr(event, "exchange_id", None) != exchange_id:
            continue
        stamp = f"{event.time:10.6f}s  "
        if isinstance(event, ExchangeOpened):
            parts.append(Text(f"{stamp}{event.method} {event.target}", style="bold"))
            parts.append(_headers(event.headers))
        elif isinstance(event, ResponseStarted):
            stream = f" ({event.stream.value})" if event.stream else ""
            parts.append(Text(f"{stamp}HTTP {event.status}{stream}", style="bold"))
            parts.append(_headers(event.headers))
        elif isinstance(event, MessageSeen):
            message = event.message
            label = f"{stamp}{event.direction.value} {message.kind.value}"
            if event.sse_id is not None:
                label += f" (SSE id {event.sse_id})"
            parts.append(Text(label, style="cyan"))
            if message.raw is not None or message.payload is None:
                parts.append(Text(f"  {message.raw!r}  {message.problem or ''}", style="red"))
            else:
                parts.append(JSON(json.dumps(message.payload)))
        elif isinstance(event, ExchangeClosed):
            line = f"{stamp}closed: {event.reason}, {event.bytes_to_client} bytes to the client"
            parts.append(Text(line, style="bold"))
        elif isinstance(event, Finding):
            parts.append(Text(f"{stamp}finding {event.rule}: {event.detail}", style="yellow"))
            for name, value in event.extra.items():  # a schema violation's path, definition...
                parts.append(Text(f"  {name}: {value}", style="dim yellow"))
        elif isinstance(event, Fault):
            parts.append(Text(f"{stamp}fault {event.kind}: {event.detail}", style="red"))
    return Group(*parts)


def _headers(headers: Headers) -> Table:
    table = Table.grid(padding=(0, 1))
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")
    for name, value in headers:
        table.add_row(f"  {name}:", value)
    return table
