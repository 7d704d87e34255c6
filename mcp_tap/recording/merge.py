"""Several recordings as one stream of events, each event labelled with its server.

`show --follow DIR` feeds the events of many files to one bus, one tracker and one view. But
every file numbers its exchanges from 1, a stdio session has no session id, and request ids
and progress tokens start again at each launch. So each file's events are rewritten on the
way in: the session becomes the file's label (`github`, then `github#2` for the next launch
of the same server; `github/SESSION` for the sessions of an HTTP recording), exchange ids are
renumbered into one sequence, and times move to one clock. The tracker then keeps the
sessions of different files apart, and the view's session column names the server.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import PurePath
from typing import Any
from urllib.parse import urlsplit

from mcp_tap.protocol.events import ExchangeClosed, Fault, TapEvent


def server_name(header: dict[str, Any]) -> str:
    """What a recording's header calls its server: the host entry a wrapped command stands
    for, else the program's name (stdio), else the target's host name (HTTP)."""
    entry = header.get("host_entry")
    if isinstance(entry, str) and entry.strip():
        return entry.strip()
    command = header.get("command")
    if isinstance(command, list) and command and isinstance(command[0], str):
        return PurePath(command[0]).name or "stdio"
    target = header.get("target")
    if not isinstance(target, str) or not target:
        return "recording"
    return urlsplit(target).hostname or target


class Labels:
    """One label per recording: its server's name, with `#2`, `#3`... for the next launches."""

    def __init__(self) -> None:
        self._seen: Counter[str] = Counter()

    def label(self, name: str) -> str:
        """The label of the next recording of server `name`."""
        self._seen[name] += 1
        count = self._seen[name]
        return name if count == 1 else f"{name}#{count}"


class ExchangeNumbers:
    """One sequence of exchange ids shared by every file of a merged stream."""

    def __init__(self) -> None:
        self.last = 0

    def next(self) -> int:
        """A new exchange id."""
        self.last += 1
        return self.last


class Relabel:
    """Rewrites one file's events for a merged stream (see the module docstring).

    `shift`: seconds added to the file's times, which count from its own start, so that they
    count from the merged stream's time 0.
    """

    def __init__(self, label: str, numbers: ExchangeNumbers, shift: float = 0.0) -> None:
        self.label = label
        self.shift = shift
        self._numbers = numbers
        self._exchanges: dict[int, int] = {}  # this file's exchange id -> the merged one

    def __call__(self, event: TapEvent) -> TapEvent:
        """`event` as the merged stream carries it."""
        changes: dict[str, Any] = {"time": event.time + self.shift}
        exchange_id = event.exchange_id
        if exchange_id is not None:
            changes["exchange_id"] = self._exchange(exchange_id)
        if isinstance(event, Fault):  # a fault has no session column: its text names the server
            changes["detail"] = f"[{self.label}] {event.detail}"
        elif not isinstance(event, ExchangeClosed):
            session = event.session_id
            changes["session_id"] = self.label if session is None else f"{self.label}/{session}"
        return dataclasses.replace(event, **changes)

    def _exchange(self, exchange_id: int) -> int:
        merged = self._exchanges.get(exchange_id)
        if merged is None:
            merged = self._exchanges[exchange_id] = self._numbers.next()
        return merged
