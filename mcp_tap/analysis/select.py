"""`mcp-tap show --filter`: pick the events of a recording that concern some methods.

Filtering a whole recording (rather than event by event, live) can look ahead: a request's
exchange is kept because a later message on it matched.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from fnmatch import fnmatchcase
from typing import Any

from mcp_tap.protocol.events import (
    Direction,
    ExchangeClosed,
    ExchangeOpened,
    MessageKind,
    MessageSeen,
    ResponseStarted,
    TapEvent,
)
from mcp_tap.protocol.jsonrpc import progress_params

_ANSWERS = (MessageKind.RESPONSE, MessageKind.ERROR)
_EXCHANGE_EVENTS = (ExchangeOpened, ResponseStarted, ExchangeClosed)


def filter_events(events: Sequence[TapEvent], method_globs: Sequence[str]) -> list[TapEvent]:
    """The events that concern messages whose method matches one of `method_globs`.

    Kept: messages whose method matches (fnmatch, case-sensitive); the responses and errors
    answering a kept request, and the progress notifications carrying its progressToken
    (matched within the request's exchange or session); the exchange-opened,
    response-started and exchange-closed events of every exchange that carried a kept
    message; and every fault and finding, which are always worth seeing. No globs: all kept.
    """
    if not method_globs:
        return list(events)
    followed: set[tuple[str, Direction, str, str]] = set()  # (scope, to, "id"/"token", value)
    kept: set[int] = set()  # positions of kept messages
    exchanges: set[int] = set()
    for index, event in enumerate(events):
        if not isinstance(event, MessageSeen):
            continue
        message = event.message
        if message.method is not None and any(fnmatchcase(message.method, g) for g in method_globs):
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
    return [
        event
        for index, event in enumerate(events)
        if index in kept
        or (isinstance(event, _EXCHANGE_EVENTS) and event.exchange_id in exchanges)
        or not isinstance(event, (MessageSeen, *_EXCHANGE_EVENTS))
    ]


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
