"""`mcp-tap show` selections: pick the events of a recording that concern some messages.

Filtering a whole recording (rather than event by event, live) can look ahead: a request's
exchange is kept because a later message on it matched.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from mcp_tap.analysis.calls import CallNumbers
from mcp_tap.protocol.events import (
    Direction,
    ExchangeClosed,
    ExchangeOpened,
    Fault,
    MessageKind,
    MessageSeen,
    ResponseStarted,
    RpcMessage,
    TapEvent,
)
from mcp_tap.protocol.jsonrpc import progress_params

_ANSWERS = (MessageKind.RESPONSE, MessageKind.ERROR)
_EXCHANGE_EVENTS = (ExchangeOpened, ResponseStarted, ExchangeClosed)


@dataclass(frozen=True)
class Selection:
    """What `show` was asked to pick. Every criterion given must hold; within one, any value.

    methods and tools are fnmatch globs (tools: a tools/call's `params.name`, and prompts/get's);
    resources match a `params.uri`; ids compare as text; `since`/`until` are seconds from
    the start of the recording; `grep` is a case-insensitive substring of the message's JSON.
    """

    methods: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    sessions: tuple[str, ...] = ()
    exchanges: tuple[int, ...] = ()
    since: float | None = None
    until: float | None = None
    grep: str | None = None

    def __bool__(self) -> bool:
        return self != Selection()

    def matches(self, event: MessageSeen) -> bool:
        """Whether a message is picked by itself (answers and progress follow their request)."""
        message = event.message
        params = message.payload.get("params") if isinstance(message.payload, dict) else None
        params = params if isinstance(params, dict) else {}
        if self.methods and not _globbed(message.method, self.methods):
            return False
        if self.tools and not _globbed(params.get("name"), self.tools):
            return False
        if self.resources and not _globbed(params.get("uri"), self.resources):
            return False
        if self.ids and (message.id is None or str(message.id) not in self.ids):
            return False
        if self.sessions and event.session_id not in self.sessions:
            return False
        if self.exchanges and event.exchange_id not in self.exchanges:
            return False
        if self.since is not None and event.time < self.since:
            return False
        if self.until is not None and event.time > self.until:
            return False
        return not self.grep or self.grep.lower() in _text(message)


def _globbed(value: Any, globs: Sequence[str]) -> bool:
    return isinstance(value, str) and any(fnmatchcase(value, g) for g in globs)


def _text(message: RpcMessage) -> str:
    if message.raw is not None:
        return str(message.raw).lower()
    return json.dumps(message.payload, ensure_ascii=False).lower()


def filter_events(events: Sequence[TapEvent], method_globs: Sequence[str]) -> list[TapEvent]:
    """The events that concern messages whose method matches one of `method_globs`."""
    return select_events(events, Selection(methods=tuple(method_globs)))


def select_events(events: Sequence[TapEvent], selection: Selection) -> list[TapEvent]:
    """The events that concern the messages `selection` picks, as a list; see `pick_events`."""
    if not selection:
        return list(events)
    return list(pick_events(events, selection)[1])


def pick_events(
    events: Iterable[TapEvent], selection: Selection
) -> tuple[set[int], Iterator[TapEvent]]:
    """The calls a picked message belongs to (numbered as `CallNumbers` does), and the
    events that concern the picked messages.

    Kept: picked messages; the responses and errors answering a picked request, and the
    progress notifications carrying its progressToken (matched within the request's exchange
    or session); the exchange-opened, response-started and exchange-closed events of every
    exchange that carried a kept message; and every fault and finding, which are always
    worth seeing. `events` is read twice (a recording file is read again, not held): once
    now to find the kept messages, once as the returned iterator goes.
    """
    followed: set[tuple[str, Direction, str, str]] = set()  # (scope, to, "id"/"token", value)
    kept: set[int] = set()  # positions of kept messages
    exchanges: set[int] = set()
    calls: set[int] = set()
    numbers = CallNumbers()
    for index, event in enumerate(events):
        number = numbers.see(event)
        if not isinstance(event, MessageSeen):
            continue
        message = event.message
        if selection.matches(event):
            if message.kind is MessageKind.REQUEST:
                back = _opposite(event.direction)
                for scope in _scopes(event):
                    followed.add((scope, back, "id", _key(message.id)))
                    if message.has_progress_token:
                        followed.add((scope, back, "token", _key(message.progress_token)))
        elif not _follows(event, followed):
            continue
        kept.add(index)
        exchanges.add(event.exchange_id)
        if number is not None:
            calls.add(number)
    picked = (
        event
        for index, event in enumerate(events)
        if index in kept
        or (isinstance(event, _EXCHANGE_EVENTS) and event.exchange_id in exchanges)
        or not isinstance(event, (MessageSeen, *_EXCHANGE_EVENTS))
    )
    return calls, picked


def call_events(events: Iterable[TapEvent], number: int) -> Iterator[TapEvent]:
    """The events of call `number`: its request, progress and answer, the findings that name
    it, and the heads, faults and ends of the HTTP exchanges that carried them (for a stdio
    call, its run's start and end). `events` is read twice, as by `pick_events`."""
    kept: set[int] = set()
    exchanges: set[int] = set()
    numbers = CallNumbers()
    for index, event in enumerate(events):
        if numbers.see(event) == number:
            kept.add(index)
            if isinstance(event, MessageSeen):
                exchanges.add(event.exchange_id)
    around = (*_EXCHANGE_EVENTS, Fault)
    return (
        event
        for index, event in enumerate(events)
        if index in kept or (isinstance(event, around) and event.exchange_id in exchanges)
    )


def _follows(event: MessageSeen, followed: set[tuple[str, Direction, str, str]]) -> bool:
    """Whether a message answers a kept request, or reports progress on one."""
    message = event.message
    if message.kind in _ANSWERS:
        wanted = ("id", _key(message.id))
    elif (params := progress_params(message)) is not None:
        wanted = ("token", _key(params.get("progressToken")))
    else:
        return False
    return any((scope, event.direction, *wanted) in followed for scope in _scopes(event))


def _scopes(event: MessageSeen) -> list[str]:
    """Where a request's id is unique: its own exchange, and its session if it has one.

    The exchange covers 2026-07-28 (no sessions) and an initialize answered on its own POST;
    the session covers answers on another stream (2024-11-05 GET, Last-Event-ID resumption).
    """
    scopes = [f"exchange {event.exchange_id}"]
    if event.session_id is not None:
        scopes.append(f"session {event.session_id}")
    return scopes


def _opposite(direction: Direction) -> Direction:
    if direction is Direction.CLIENT_TO_SERVER:
        return Direction.SERVER_TO_CLIENT
    return Direction.CLIENT_TO_SERVER


def _key(value: Any) -> str:
    """A hashable, type-keeping key for an id or token: "1" and 1 stay different."""
    return json.dumps(value, sort_keys=True)
