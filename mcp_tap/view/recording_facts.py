"""What `show` prints about a recording besides the live view: its header, and one call or
one HTTP exchange whole.

Data in, renderables out, like the rest of the view: the command decides where they go.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from mcp_tap.analysis.calls import CallNumbers
from mcp_tap.analysis.origin import target_name
from mcp_tap.protocol.events import (
    ExchangeClosed,
    ExchangeOpened,
    Fault,
    Finding,
    Headers,
    MessageSeen,
    ResponseStarted,
    StreamKind,
    TapEvent,
)
from mcp_tap.view.format import seconds
from mcp_tap.view.visible import json_text, visible


@dataclass
class RecordingFacts:
    """What `show` says of a recording before its events: counted in one pass over them."""

    sessions: set[str | int] = field(default_factory=set)  # ids; a stdio run's exchange id
    exchanges: set[int] = field(default_factory=set)  # opened
    message_exchanges: set[int] = field(default_factory=set)  # that carried a message
    calls: int = 0  # requests, numbered as every command numbers them (`CallNumbers`)
    duration: float = 0.0

    @classmethod
    def of(cls, events: Iterable[TapEvent]) -> RecordingFacts:
        """The facts of `events`, read once."""
        facts = cls()
        numbers = CallNumbers()
        for event in events:
            facts.duration = max(facts.duration, event.time)
            numbers.see(event)
            if isinstance(event, MessageSeen):
                facts.message_exchanges.add(event.exchange_id)
                if event.session_id:
                    facts.sessions.add(event.session_id)
                elif event.stream is StreamKind.STDIO:  # one run of a stdio server: a session
                    facts.sessions.add(event.exchange_id)
            elif isinstance(event, ExchangeOpened):
                facts.exchanges.add(event.exchange_id)
        facts.calls = numbers.count
        return facts


def recording_header(
    path: str, header: Mapping[str, Any], events: Iterable[TapEvent] | RecordingFacts
) -> Text:
    """One line: the file, its server (target URL or stdio command), when it started, its
    calls and sessions, and its duration."""
    known = events if isinstance(events, RecordingFacts) else RecordingFacts.of(events)
    text = Text.assemble((visible(path), "bold"), ": ")
    name = target_name(header)
    facts = [
        visible(name) if name.startswith("stdio: ") else f"target {visible(name)}",
        f"started {visible(str(header.get('started', '?')))}",
        _count(known.calls, "call"),
        _count(len(known.sessions), "session"),
        f"{seconds(known.duration)}",
    ]
    text.append(" · ".join(facts), style="dim")
    return text


def _count(number: int, what: str) -> str:
    return f"{number} {what}" if number == 1 else f"{number} {what}s"


def exchange_detail(exchange_id: int, events: Iterable[TapEvent]) -> RenderableType:
    """Every event of one HTTP exchange with its time: headers, bodies, messages, findings."""
    return events_detail(e for e in events if getattr(e, "exchange_id", None) == exchange_id)


def events_detail(events: Iterable[TapEvent]) -> RenderableType:
    """Every one of `events` with its time: heads and headers, messages whole, findings.

    Each line is recorded text: its control characters are shown escaped (`visible`).
    """
    parts: list[RenderableType] = []
    for event in events:
        stamp = f"{event.time:10.6f}s  "
        if isinstance(event, ExchangeOpened):
            parts.append(_line(f"{stamp}{event.method} {event.target}", "bold"))
            parts.append(_headers(event.headers))
        elif isinstance(event, ResponseStarted):
            stream = f" ({event.stream.value})" if event.stream else ""
            parts.append(_line(f"{stamp}HTTP {event.status}{stream}", "bold"))
            parts.append(_headers(event.headers))
        elif isinstance(event, MessageSeen):
            message = event.message
            label = f"{stamp}{event.direction.value} {message.kind.value}"
            if event.sse_id is not None:
                label += f" (SSE id {event.sse_id})"
            parts.append(_line(label, "cyan"))
            if message.raw is not None or message.payload is None:
                parts.append(_line(f"  {message.raw!r}  {message.problem or ''}", "red"))
            else:
                parts.append(json_text(message.payload))
        elif isinstance(event, ExchangeClosed):
            line = f"{stamp}closed: {event.reason}, {event.bytes_to_client} bytes to the client"
            parts.append(_line(line, "bold"))
        elif isinstance(event, Finding):
            parts.append(_line(f"{stamp}finding {event.rule}: {event.detail}", "yellow"))
            for name, value in event.extra.items():  # a schema violation's path, definition...
                parts.append(_line(f"  {name}: {value}", "dim yellow"))
        elif isinstance(event, Fault):
            parts.append(_line(f"{stamp}fault {event.kind}: {event.detail}", "red"))
    return Group(*parts)


def _headers(headers: Headers) -> Table:
    table = Table.grid(padding=(0, 1))
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")
    for name, value in headers:
        table.add_row(_line(f"  {name}:"), _line(value))
    return table


def _line(text: str, style: str = "") -> Text:
    return Text(visible(text), style=style)
