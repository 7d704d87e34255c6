"""Calls: each JSON-RPC request with its progress and its response, and how they are numbered.

A call is one request and what answered it. Every command names a call by one number
(`CallNumbers`): the requests of a recording counted from 1 in the order they appear, the
client's and the server's (sampling, elicitation, roots) in one sequence, over HTTP and stdio
alike. `show --call N`, `serve`'s misses, `replay`'s divergences, `check`'s findings, the
report and the exports all use it. An HTTP exchange is another thing: one POST or GET
stream, which may carry several calls (a batch, a session's GET stream) or none.

Replay builds the grouped view (`CallBook`) of the recording and of what came back, then
compares them call by call. A request is keyed by who owns its id space: its MCP session
when it has one, or else its own HTTP exchange (2026-07-28 POSTs share no session, and their
ids may repeat).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from mcp_tap.protocol.events import (
    Direction,
    Finding,
    MessageKind,
    MessageSeen,
    RpcMessage,
    TapEvent,
)
from mcp_tap.protocol.jsonrpc import progress_params

RECENT_ANSWERED = 4096  # answered calls whose ids still find them (a late finding, a late progress)
MAX_UNANSWERED = 65_536  # calls waiting for an answer that are remembered; the oldest go first
Owner = str | int  # a session id, or the exchange id of a session-less request
VOLATILE_OUTCOME = ("result._meta", "result.serverInfo.version", "error.data.timestamp")
"""Fields of an outcome that change from run to run: never a divergence (replay) or a
difference (diff)."""


@dataclass(slots=True)
class Call:
    """One request, the progress notifications for its token, and its response."""

    exchange_id: int
    session_id: str | None
    request: RpcMessage
    sent_at: float
    progress: list[dict[str, Any]] = field(default_factory=list)  # the notifications' params
    progress_times: list[float] = field(default_factory=list)  # when each of them was seen
    response: RpcMessage | None = None
    answered_at: float | None = None
    number: int = 0  # the call's number in its recording (`CallNumbers`); 0 when unknown

    @property
    def method(self) -> str:
        return self.request.method or "?"

    @property
    def label(self) -> str:
        """How a person names this call: `tools/call download_file (id 2)`."""
        params = self.request.payload.get("params") if self.request.payload else None
        name = params.get("name") if isinstance(params, dict) else None
        tool = f" {name}" if isinstance(name, str) else ""
        return f"{self.method}{tool} (id {self.request.id!r})"


def outcome(call: Call) -> dict[str, Any]:
    """The comparable part of a call's response: its result or its error."""
    if call.response is None or call.response.payload is None:
        return {}  # none, or packed away (`replay.plan.pack`)
    return {k: v for k, v in call.response.payload.items() if k in ("result", "error")}


def owner_of(event: MessageSeen) -> Owner:
    return event.session_id if event.session_id is not None else event.exchange_id


def _token_key(token: Any) -> tuple[str, Any]:
    return (type(token).__name__, token)  # "1" and 1 are different tokens


_ANSWERS = (MessageKind.RESPONSE, MessageKind.ERROR)
_NumberKey = tuple[Owner, Direction, tuple[str, Any]]  # (owner, the request's way, id/token)
_Entry = tuple[dict[_NumberKey, int], _NumberKey]  # a table of CallNumbers, and a key in it


class CallNumbers:
    """The one numbering of calls, fed a recording's events in order (a pure fold).

    `see` gives a request the next number, and a response, an error or a progress
    notification the number of the request it belongs to. A request's id is looked up in
    its owner (session, or exchange when it has none) and in its own exchange (an
    initialize is answered with a session it did not have); an id used again starts a new
    call, as it does on the wire.

    A recording of any length is numbered in bounded memory: once a call is answered its ids
    are kept for the next `RECENT_ANSWERED` answered calls only (what comes that late is
    numbered None), and at most `MAX_UNANSWERED` calls wait for their answer.
    """

    def __init__(self) -> None:
        self.count = 0  # calls numbered so far: the last number given
        self._ids: dict[_NumberKey, int] = {}
        self._tokens: dict[_NumberKey, int] = {}
        self._waiting: dict[int, list[_Entry]] = {}  # unanswered call -> where its keys are
        self._answered: deque[tuple[int, list[_Entry]]] = deque()  # the latest, oldest first

    def see(self, event: TapEvent) -> int | None:
        """The number of the call `event` belongs to, or None (not part of any call)."""
        if isinstance(event, Finding):
            return self.of_finding(event)
        if not isinstance(event, MessageSeen):
            return None
        message, owner = event.message, owner_of(event)
        if message.kind is MessageKind.REQUEST:
            return self._number(event, owner)
        asker = _other_way(event.direction)
        if message.kind in _ANSWERS:
            key = _token_key(message.id)
            number = self._ids.get((owner, asker, key)) or self._ids.get(
                (event.exchange_id, asker, key)
            )
            if number is not None:
                self._answer(number)
            return number
        params = progress_params(message)
        if params is not None:
            return self._tokens.get((owner, asker, _token_key(params.get("progressToken"))))
        return None

    def forget(self, owner: Owner, exchange_id: int, request: RpcMessage) -> None:
        """Let go of a client's request (its call is done with): a long recording read as a
        stream keeps only the calls still open."""
        way = Direction.CLIENT_TO_SERVER
        key = _token_key(request.id)
        self._ids.pop((owner, way, key), None)
        self._ids.pop((exchange_id, way, key), None)
        if request.has_progress_token:
            self._tokens.pop((owner, way, _token_key(request.progress_token)), None)

    def _number(self, event: MessageSeen, owner: Owner) -> int:
        self.count += 1
        message, number = event.message, self.count
        key = _token_key(message.id)
        entries: list[_Entry] = [
            (self._ids, (owner, event.direction, key)),
            (self._ids, (event.exchange_id, event.direction, key)),
        ]
        if message.has_progress_token:
            token = _token_key(message.progress_token)
            entries.append((self._tokens, (owner, event.direction, token)))
        for table, entry_key in entries:
            table[entry_key] = number
        self._waiting[number] = entries
        if len(self._waiting) > MAX_UNANSWERED:
            oldest = next(iter(self._waiting))
            self._forget(oldest, self._waiting.pop(oldest))
        return number

    def _answer(self, number: int) -> None:
        """Call `number` is answered: its keys stay for the next RECENT_ANSWERED answers."""
        entries = self._waiting.pop(number, None)
        if entries is None:
            return  # answered before (a duplicate answer), or forgotten
        self._answered.append((number, entries))
        if len(self._answered) > RECENT_ANSWERED:
            self._forget(*self._answered.popleft())

    @staticmethod
    def _forget(number: int, entries: list[_Entry]) -> None:
        for table, key in entries:
            if table.get(key) == number:  # not an id used again by a later call
                del table[key]

    def of_finding(self, finding: Finding) -> int | None:
        """The call a finding names by its request id (the client's request first)."""
        if finding.request_id is None:
            return None
        key = _token_key(finding.request_id)
        owners = [o for o in (finding.session_id, finding.exchange_id) if o is not None]
        for direction in Direction:
            for owner in owners:
                number = self._ids.get((owner, direction, key))
                if number is not None:
                    return number
        return None


def _other_way(direction: Direction) -> Direction:
    if direction is Direction.CLIENT_TO_SERVER:
        return Direction.SERVER_TO_CLIENT
    return Direction.CLIENT_TO_SERVER


def client_call_numbers(events: Iterable[TapEvent]) -> list[int]:
    """The numbers of the client's requests, in order: what a plan built from the same
    requests in another cut (a stdio session seen as HTTP exchanges) calls them."""
    numbers = CallNumbers()
    found = []
    for event in events:
        number = numbers.see(event)
        if (
            number is not None
            and isinstance(event, MessageSeen)
            and event.message.kind is MessageKind.REQUEST
            and event.direction is Direction.CLIENT_TO_SERVER
        ):
            found.append(number)
    return found


class CallBook:
    """Builds calls incrementally from tap events (usable as a bus subscriber)."""

    def __init__(self, keep: bool = True) -> None:
        self.keep = keep  # False: `calls` stays empty, a call lives until it is forgotten
        self.calls: list[Call] = []
        self._by_id: dict[tuple[Owner, Any], Call] = {}
        self._by_token: dict[tuple[Owner, tuple[str, Any]], Call] = {}
        self._by_exchange: dict[tuple[int, Any], Call] = {}
        self._numbers = CallNumbers()

    def handle(self, event: TapEvent) -> Call | None:
        """Follow `event`; the call it opened or answered, if any."""
        if not isinstance(event, MessageSeen):
            return None
        number = self._numbers.see(event)
        message = event.message
        owner = owner_of(event)
        if event.direction is Direction.CLIENT_TO_SERVER:
            if message.kind is MessageKind.REQUEST:
                call = Call(event.exchange_id, event.session_id, message, event.time)
                call.number = number or 0
                if self.keep:
                    self.calls.append(call)
                self._by_id[(owner, message.id)] = call
                self._by_exchange[(event.exchange_id, message.id)] = call
                if message.has_progress_token:
                    self._by_token[(owner, _token_key(message.progress_token))] = call
                return call
            return None
        params = progress_params(message)
        if params is not None:
            holder = self._by_token.get((owner, _token_key(params.get("progressToken"))))
            if holder is not None:
                holder.progress.append(params)
                holder.progress_times.append(event.time)
        elif message.kind in (MessageKind.RESPONSE, MessageKind.ERROR):
            # An initialize request has no session yet; its response arrives with one.
            asker = self._by_id.get((owner, message.id)) or self._by_id.get(
                (event.exchange_id, message.id)
            )
            if asker is not None and asker.response is None:
                asker.response = message
                asker.answered_at = event.time
                return asker
        return None

    def close(self) -> None:
        pass

    def forget(self, call: Call) -> None:
        """Stop following `call` (it has been judged): no later event can reach it."""
        owner: Owner = call.session_id if call.session_id is not None else call.exchange_id
        request = call.request
        if self._by_id.get((owner, request.id)) is call:
            del self._by_id[(owner, request.id)]
        if self._by_exchange.get((call.exchange_id, request.id)) is call:
            del self._by_exchange[(call.exchange_id, request.id)]
        token = (owner, _token_key(request.progress_token))
        if request.has_progress_token and self._by_token.get(token) is call:
            del self._by_token[token]
        self._numbers.forget(owner, call.exchange_id, request)

    def sent_on(self, exchange_id: int, request_id: Any) -> Call | None:
        """The call whose request went out on `exchange_id` with `request_id`."""
        return self._by_exchange.get((exchange_id, request_id))


def collect_calls(events: Iterable[TapEvent]) -> list[Call]:
    """Every request in `events`, in the order it was sent, with its progress and response."""
    book = CallBook()
    for event in events:
        book.handle(event)
    return book.calls
