"""Every call the web view has seen, numbered as `show --call N` numbers them.

`CallStore` is a tap subscriber: `handle` files the event under its call (a dict lookup and
an append, on the forwarding path's loop turn) and tells its listeners what changed, as small
JSON-ready dicts. The page asks for the rest: `page` filters and slices the call list (the
list of matches is kept until something changes, so scrolling 100,000 calls costs a slice),
`detail` gives one call whole, `summary` the counts. What it keeps is bounded by an
`EventWindow` (`window.py`): past its cap the oldest calls go whole, and the page is told.
"""

from __future__ import annotations

import fnmatch
import json
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mcp_tap.analysis.calls import CallNumbers
from mcp_tap.analysis.rules import BY_SLUG
from mcp_tap.protocol.events import (
    Direction,
    ExchangeClosed,
    ExchangeOpened,
    Fault,
    FaultInjected,
    Finding,
    MessageKind,
    MessageSeen,
    ResponseStarted,
    TapEvent,
)
from mcp_tap.protocol.jsonrpc import progress_params
from mcp_tap.protocol.redaction import RedactionRules, Redactor
from mcp_tap.web.window import DEFAULT_MAX_EVENTS, EventWindow

Update = dict[str, Any]  # one live change, as the page receives it
MAX_PAGE = 500  # rows one request may ask for
MAX_FINDINGS_LISTED = 1000  # the findings list sends the latest this many


@dataclass
class CallEntry:
    """One call: its request, what came back for it, and the findings that name it."""

    number: int
    request: MessageSeen
    messages: list[MessageSeen] = field(default_factory=list)  # notifications, the answer
    response: MessageSeen | None = None
    findings: list[Finding] = field(default_factory=list)
    progress: list[tuple[float, float, float | None]] = field(default_factory=list)
    _haystack: str | None = None  # lower-case text searched by the filter's `text`

    @property
    def method(self) -> str:
        return self.request.message.method or "?"

    @property
    def tool(self) -> str:
        params = _params(self.request)
        name = params.get("name") if isinstance(params, dict) else None
        return name if isinstance(name, str) else ""

    @property
    def status(self) -> str:
        if self.response is None:
            return "pending"
        return "error" if self.response.message.kind is MessageKind.ERROR else "ok"

    @property
    def duration(self) -> float | None:
        return None if self.response is None else self.response.time - self.request.time

    def haystack(self) -> str:
        if self._haystack is None:
            parts = [self.request.message.payload]
            if self.response is not None:
                parts.append(self.response.message.payload)
            self._haystack = json.dumps(parts, ensure_ascii=False, default=str).lower()
        return self._haystack

    def row(self) -> dict[str, Any]:
        """The call as one line of the list."""
        worst = _worst(self.findings)
        return {
            "n": self.number,
            "time": round(self.request.time, 3),
            "method": self.method,
            "tool": self.tool,
            "session": self.request.session_id or "",
            "way": "s2c" if self.request.direction is Direction.SERVER_TO_CLIENT else "c2s",
            "status": self.status,
            "duration": None if self.duration is None else round(self.duration * 1000, 1),
            "findings": len(self.findings),
            "severity": worst,
            "progress": len(self.progress),
        }


@dataclass(frozen=True)
class Filter:
    """What the page filters the list by; empty fields match everything."""

    method: str = ""  # a glob (`tools/*`) or a part of the method
    tool: str = ""
    session: str = ""  # a prefix of the session id
    finding: str = ""  # a part of a finding's rule slug; `*`: any finding
    text: str = ""  # a part of the request's or the answer's JSON, any case

    def matches(self, entry: CallEntry) -> bool:
        if self.method and not _like(self.method, entry.method):
            return False
        if self.tool and not _like(self.tool, entry.tool):
            return False
        if self.session and not (entry.request.session_id or "").startswith(self.session):
            return False
        if self.finding:
            if not entry.findings:
                return False
            if self.finding != "*" and not any(self.finding in f.rule for f in entry.findings):
                return False
        return not self.text or self.text.lower() in entry.haystack()


class CallStore:
    """A tap subscriber keeping calls, exchanges and findings for the page (module docstring)."""

    def __init__(
        self, redaction: RedactionRules | None = None, max_events: int = DEFAULT_MAX_EVENTS
    ) -> None:
        self.window = EventWindow(max_events)  # the events as they came, for resend
        self.calls: list[CallEntry] = []  # the kept calls, by number
        self.by_number: dict[int, CallEntry] = {}
        self.dropped = 0  # calls dropped past the cap
        self.findings: list[Finding] = []
        self.faults: list[Fault | FaultInjected] = []
        self.exchanges: dict[int, dict[str, Any]] = {}
        self.listeners: list[Callable[[Update], None]] = []
        self.messages = 0
        self.closed = False
        self._numbers = CallNumbers()
        self._redact = Redactor(redaction or RedactionRules(), sessions=False)
        self._version = 0
        self._matches: tuple[Filter, int, list[int]] | None = None

    # --- subscriber -------------------------------------------------------------------

    def handle(self, event: TapEvent) -> None:
        """File the event under its call and tell the listeners; never blocks."""
        self._version += 1
        number = self._numbers.see(event)
        if isinstance(event, MessageSeen):
            self.messages += 1
        if number is not None and self.window.dropped(number):
            return  # a late message of a call dropped past the cap
        self.window.add(event, number if number is not None else self._pin_of(event))
        if isinstance(event, MessageSeen):
            self._message(event, number)
        elif isinstance(event, Finding):
            self.findings.append(event)
            entry = self.call(number) if number is not None else None
            if entry is not None:
                entry.findings.append(event)
                self._tell({"t": "call", "row": entry.row()})
            self._tell({"t": "finding", "finding": self.finding_json(event, number)})
        elif isinstance(event, Fault | FaultInjected):
            self.faults.append(event)
        elif isinstance(event, ExchangeOpened):
            self.exchanges[event.exchange_id] = {"opened": event}
        elif isinstance(event, ResponseStarted | ExchangeClosed):
            key = "started" if isinstance(event, ResponseStarted) else "closed"
            self.exchanges.setdefault(event.exchange_id, {})[key] = event
        if self.window.full:
            self._shed()

    def _pin_of(self, event: TapEvent) -> int | None:
        """The session's `initialize` a `notifications/initialized` goes with."""
        if isinstance(event, MessageSeen) and event.message.method == "notifications/initialized":
            return self.window.last_pin
        return None

    def _shed(self) -> None:
        gone = self.window.shed()
        self.dropped += len(gone)
        self.calls = [entry for entry in self.calls if entry.number not in gone]
        for number in gone:
            self.by_number.pop(number, None)
        kept = {id(event) for event, _ in self.window.items}
        self.findings = [f for f in self.findings if id(f) in kept]
        self.faults = [f for f in self.faults if id(f) in kept]
        exchanges = {getattr(event, "exchange_id", None) for event, _ in self.window.items}
        self.exchanges = {x: parts for x, parts in self.exchanges.items() if x in exchanges}
        self._matches = None
        self._tell({"t": "dropped", "dropped": self.dropped, "count": len(self.calls)})

    def resend_input(self, number: int) -> tuple[list[TapEvent], int]:
        """The kept events, and the number call `number` has among them (for a `Resender`)."""
        return self.window.events(), self.window.local_number(number)

    def close(self) -> None:
        self.closed = True
        self._tell({"t": "closed"})

    def _message(self, event: MessageSeen, number: int | None) -> None:
        message = event.message
        if number is None:
            return
        if message.kind is MessageKind.REQUEST and number not in self.by_number:
            entry = CallEntry(number, event)
            self.calls.append(entry)
            self.by_number[number] = entry
            if message.method == "initialize":
                self.window.pin(number)
            self._tell({"t": "call", "row": entry.row(), "count": len(self.calls)})
            return
        found = self.call(number)
        if found is None:
            return
        entry = found
        entry.messages.append(event)
        params = progress_params(message)
        if params is not None:
            point = _point(event.time, params)
            if point is not None:
                entry.progress.append(point)
                self._tell({"t": "progress", "n": number, "p": list(point)})
        elif message.kind in (MessageKind.RESPONSE, MessageKind.ERROR) and entry.response is None:
            entry.response = event
            entry._haystack = None
            self._tell({"t": "call", "row": entry.row()})

    def _tell(self, update: Update) -> None:
        for listener in self.listeners:
            listener(update)

    # --- what the page asks -------------------------------------------------------------

    def call(self, number: int) -> CallEntry | None:
        """Call `number` (counted from 1), or None (never seen, or dropped)."""
        return self.by_number.get(number)

    def page(self, where: Filter, offset: int, limit: int) -> dict[str, Any]:
        """The rows `offset..offset+limit` of the calls `where` lets through."""
        matches = self._matching(where)
        limit = max(0, min(limit, MAX_PAGE))
        offset = max(0, offset)
        rows = [self.calls[i].row() for i in matches[offset : offset + limit]]
        return {
            "total": len(matches),
            "all": len(self.calls),
            "offset": offset,
            "rows": rows,
            "dropped": self.dropped,
        }

    def _matching(self, where: Filter) -> Sequence[int]:
        if where == Filter():
            return range(len(self.calls))  # every call: a range slices for free
        cached = self._matches
        if cached is not None and cached[0] == where and cached[1] == self._version:
            return cached[2]
        found = [i for i, entry in enumerate(self.calls) if where.matches(entry)]
        self._matches = (where, self._version, found)
        return found

    def detail(self, number: int) -> dict[str, Any] | None:
        """One call whole: its messages, both exchanges' headers, timings and findings."""
        entry = self.call(number)
        if entry is None:
            return None
        messages = [entry.request, *entry.messages]
        exchanges = sorted({m.exchange_id for m in messages})
        return {
            "row": entry.row(),
            "messages": [self._message_json(m, entry.request.time) for m in messages],
            "exchanges": [self._exchange_json(x) for x in exchanges],
            "findings": [self.finding_json(f, number) for f in entry.findings],
            "progress": [list(p) for p in entry.progress],
            "params": _params(entry.request),
        }

    def _message_json(self, seen: MessageSeen, start: float) -> dict[str, Any]:
        seen = self._redact(seen)
        message = seen.message
        raw = message.raw
        if raw is None:
            raw = json.dumps(message.payload, ensure_ascii=False, indent=None, default=str)
        return {
            "at": round((seen.time - start) * 1000, 1),
            "time": round(seen.time, 3),
            "way": seen.direction.value,
            "kind": message.kind.value,
            "method": message.method,
            "exchange": seen.exchange_id,
            "stream": seen.stream.value,
            "json": message.payload,
            "raw": raw,
        }

    def _exchange_json(self, exchange_id: int) -> dict[str, Any]:
        parts = self.exchanges.get(exchange_id, {})
        out: dict[str, Any] = {"id": exchange_id}
        opened = parts.get("opened")
        if isinstance(opened, ExchangeOpened):
            opened = self._redact(opened)
            out["request"] = {
                "method": opened.method,
                "target": opened.target,
                "headers": [list(h) for h in opened.headers],
                "time": round(opened.time, 3),
            }
        started = parts.get("started")
        if isinstance(started, ResponseStarted):
            started = self._redact(started)
            out["response"] = {
                "status": started.status,
                "headers": [list(h) for h in started.headers],
                "time": round(started.time, 3),
                "stream": started.stream.value if started.stream else None,
            }
        closed = parts.get("closed")
        if isinstance(closed, ExchangeClosed):
            out["closed"] = {"reason": closed.reason, "time": round(closed.time, 3)}
        return out

    def finding_json(self, finding: Finding, number: int | None) -> dict[str, Any]:
        """A finding with its rule's summary and spec link, and the call it names."""
        rule = BY_SLUG.get(finding.rule)
        return {
            "time": round(finding.time, 3),
            "severity": finding.severity.value,
            "rule": finding.rule,
            "detail": finding.detail,
            "summary": rule.summary if rule else "",
            "spec": rule.spec if rule else "",
            "n": number,
        }

    def findings_json(self) -> list[dict[str, Any]]:
        """The latest findings, each with the call it names."""
        return [
            self.finding_json(f, self._numbers.of_finding(f))
            for f in self.findings[-MAX_FINDINGS_LISTED:]
        ]

    def streams(self, limit: int = 6) -> list[dict[str, Any]]:
        """The latest calls that reported progress, with their points."""
        found = []
        for entry in reversed(self.calls):
            if entry.progress:
                found.append({"row": entry.row(), "progress": [list(p) for p in entry.progress]})
                if len(found) == limit:
                    break
        return found

    def summary(self) -> dict[str, Any]:
        """The session in counts: calls by method with their errors and durations."""
        by_method: dict[str, list[CallEntry]] = {}
        for entry in self.calls:
            by_method.setdefault(entry.method, []).append(entry)
        methods = []
        for method, entries in sorted(by_method.items()):
            times = [e.duration * 1000 for e in entries if e.duration is not None]
            methods.append(
                {
                    "method": method,
                    "calls": len(entries),
                    "errors": sum(e.status == "error" for e in entries),
                    "pending": sum(e.status == "pending" for e in entries),
                    "p50": round(statistics.median(times), 1) if times else None,
                    "max": round(max(times), 1) if times else None,
                }
            )
        severities = Counter(f.severity.value for f in self.findings)
        return {
            "calls": len(self.calls),
            "messages": self.messages,
            "exchanges": len(self.exchanges),
            "sessions": len({e.request.session_id for e in self.calls if e.request.session_id}),
            "findings": dict(severities),
            "faults": len(self.faults),
            "dropped": self.dropped,
            "methods": methods,
            "closed": self.closed,
        }


def _params(seen: MessageSeen) -> Any:
    payload = seen.message.payload
    return payload.get("params") if isinstance(payload, dict) else None


def _point(time: float, params: dict[str, Any]) -> tuple[float, float, float | None] | None:
    progress, total = params.get("progress"), params.get("total")
    if not isinstance(progress, int | float) or isinstance(progress, bool):
        return None
    known = total if isinstance(total, int | float) and not isinstance(total, bool) else None
    return (round(time, 3), float(progress), None if known is None else float(known))


def _like(pattern: str, value: str) -> bool:
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(value, pattern)
    return pattern.lower() in value.lower()


_RANK = {"info": 1, "warning": 2, "error": 3}


def _worst(findings: list[Finding]) -> str | None:
    if not findings:
        return None
    return max((f.severity.value for f in findings), key=lambda s: _RANK.get(s, 0))
