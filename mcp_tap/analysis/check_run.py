"""Every rule over one recording's events: what `mcp-tap check` judges, without the command.

The checkers the live view runs (progress tracker, wire checks, OAuth flow, schema and tool
checks, lifecycle, id and 2026-07-28 checks) judge the events again from scratch, so a
recording made by an older mcp-tap is held to today's rules; the findings it carries are
set aside. Then the pins a test asks for:
tools that must or must not be called, the longest a method may take, and (`--pins`) the
definitions the server must keep. `--rule` and
`--skip-rule` choose among the findings by the names of `rules.RULES`.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, field

from mcp_tap.analysis.calls import CallNumbers
from mcp_tap.analysis.conformance import conformance_checkers
from mcp_tap.analysis.oauth import OAuthFlow
from mcp_tap.analysis.pins import Pins
from mcp_tap.analysis.rules import (
    BY_SLUG,
    DURATION_EXCEEDED,
    TOOL_EXPECTED,
    TOOL_FORBIDDEN,
    Rule,
)
from mcp_tap.analysis.schema_checks import JUDGED, SchemaChecker
from mcp_tap.analysis.tracker import ProgressTracker
from mcp_tap.analysis.wire_checks import WireChecker
from mcp_tap.protocol.events import Finding, MessageKind, MessageSeen, Subscriber, TapEvent
from mcp_tap.tap.bus import TapBus


@dataclass(frozen=True)
class CheckOptions:
    """What the user asked `check` for, beyond the protocol's rules."""

    rules: frozenset[str] = frozenset()  # only these rules (empty: every rule)
    skip: frozenset[str] = frozenset()  # never these
    expect_tools: tuple[str, ...] = ()  # globs: each must match a called tool
    forbid_tools: tuple[str, ...] = ()  # globs: none may match a called tool
    max_durations: dict[str, float] = field(default_factory=dict)  # method glob -> seconds
    pins: Pins | None = None  # the definitions the server is held to (--pins)

    def __post_init__(self) -> None:
        unknown = sorted((self.rules | self.skip) - set(BY_SLUG))
        if unknown:
            raise ValueError(
                f"no rule named {', '.join(unknown)} (mcp-tap check --list-rules names them)"
            )

    def wants(self, rule: str) -> bool:
        """Whether findings of `rule` are reported."""
        return rule not in self.skip and (not self.rules or rule in self.rules)


@dataclass
class CheckedRecording:
    """One recording's verdict: its findings, each with the index of the event behind it."""

    findings: list[tuple[int, Finding]]
    messages: int = 0
    calls: list[int | None] = field(default_factory=list)  # each finding's call, if it names one
    judged: int = 0  # messages checked against their revision's schema
    unjudged: int = 0  # messages whose revision nothing named


class _Cursor:
    """The index of the event being delivered, for findings to point at."""

    index = 0


class _Pins:
    """Subscriber after the tracker: the tools called, and each answered request's time."""

    def __init__(self, tracker: ProgressTracker, options: CheckOptions, cursor: _Cursor) -> None:
        self.tracker = tracker
        self.options = options
        self.cursor = cursor
        self.called: set[str] = set()
        self.late: list[tuple[int, MessageSeen, str, float, float]] = []

    def handle(self, event: TapEvent) -> None:
        if not isinstance(event, MessageSeen):
            return
        message = event.message
        if message.kind is MessageKind.REQUEST and message.method == "tools/call":
            params = message.payload.get("params")
            name = params.get("name") if isinstance(params, dict) else None
            if isinstance(name, str):
                self.called.add(name)
        elif message.kind in (MessageKind.RESPONSE, MessageKind.ERROR):
            request = self.tracker.match(event)
            if request is None or request.answered_at != event.time:
                return
            took = event.time - request.sent_at
            for pattern, limit in self.options.max_durations.items():
                if fnmatch.fnmatchcase(request.method, pattern) and took > limit:
                    self.late.append((self.cursor.index, event, request.method, took, limit))
                    break

    def close(self) -> None:
        pass


def check_events(events: Iterable[TapEvent], options: CheckOptions) -> CheckedRecording:
    """Run every rule over `events` (a recording's, in order)."""
    found: list[tuple[int, Finding]] = []
    cursor = _Cursor()
    numbers = CallNumbers()  # fed each event before the checkers, so a finding finds its call
    calls: list[int | None] = []

    class _Collect:
        def handle(self, event: TapEvent) -> None:
            if isinstance(event, Finding):
                found.append((cursor.index, event))
                calls.append(numbers.of_finding(event))

        def close(self) -> None:
            pass

    bus = TapBus()
    tracker = ProgressTracker(bus.publish)
    schema = SchemaChecker(bus.publish)
    pins = _Pins(tracker, options, cursor)
    checkers: list[Subscriber] = [tracker, WireChecker(bus.publish), OAuthFlow(bus.publish), schema]
    for subscriber in (*checkers, *conformance_checkers(bus.publish, options.pins), pins):
        bus.subscribe(subscriber)
    bus.subscribe(_Collect())
    messages = 0
    for index, event in enumerate(events):
        if isinstance(event, Finding):
            continue  # the recording's own findings: judged again from the events
        messages += isinstance(event, MessageSeen) and event.message.kind in JUDGED
        cursor.index = index
        numbers.see(event)
        bus.publish(event)  # no event loop: delivered at once, findings with it
    bus.close()
    for index, event, method, took, limit in pins.late:
        detail = f"{method} id {event.message.id!r} took {took:.3f} s, over {limit:g} s"
        found.append((index, _pin(DURATION_EXCEEDED, detail, event)))
        calls.append(numbers.of_finding(found[-1][1]))
    for pattern in options.expect_tools:
        if not any(fnmatch.fnmatchcase(name, pattern) for name in pins.called):
            found.append((0, _pin(TOOL_EXPECTED, f"no call of a tool named {pattern!r}")))
            calls.append(None)
    for name in sorted(pins.called):
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in options.forbid_tools):
            found.append((0, _pin(TOOL_FORBIDDEN, f"tool {name!r} was called")))
            calls.append(None)
    wanted = [options.wants(f.rule) for _, f in found]
    return CheckedRecording(
        [pair for pair, keep in zip(found, wanted, strict=True) if keep],
        messages,
        [call for call, keep in zip(calls, wanted, strict=True) if keep],
        schema.judged,
        schema.unjudged,
    )


def _pin(rule: Rule, detail: str, event: MessageSeen | None = None) -> Finding:
    if event is None:
        return Finding(0.0, rule.severity, rule.slug, detail)
    return Finding(
        event.time,
        rule.severity,
        rule.slug,
        detail,
        exchange_id=event.exchange_id,
        session_id=event.session_id,
        request_id=event.message.id,
    )
