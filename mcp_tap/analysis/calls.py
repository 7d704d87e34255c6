"""Group a stream of tap events into calls: each request with its progress and its response.

Replay builds this view of the recording and of what came back, then compares them call by
call. A request is keyed by who owns its id space: its MCP session when it has one, or else
its own HTTP exchange (2026-07-28 POSTs share no session, and their ids may repeat).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mcp_tap.protocol.events import Direction, MessageKind, MessageSeen, RpcMessage, TapEvent
from mcp_tap.protocol.jsonrpc import progress_params

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


class CallBook:
    """Builds calls incrementally from tap events (usable as a bus subscriber)."""

    def __init__(self, keep: bool = True) -> None:
        self.keep = keep  # False: `calls` stays empty, a call lives until it is forgotten
        self.calls: list[Call] = []
        self._by_id: dict[tuple[Owner, Any], Call] = {}
        self._by_token: dict[tuple[Owner, tuple[str, Any]], Call] = {}
        self._by_exchange: dict[tuple[int, Any], Call] = {}

    def handle(self, event: TapEvent) -> None:
        if not isinstance(event, MessageSeen):
            return
        message = event.message
        owner = owner_of(event)
        if event.direction is Direction.CLIENT_TO_SERVER:
            if message.kind is MessageKind.REQUEST:
                call = Call(event.exchange_id, event.session_id, message, event.time)
                if self.keep:
                    self.calls.append(call)
                self._by_id[(owner, message.id)] = call
                self._by_exchange[(event.exchange_id, message.id)] = call
                if message.has_progress_token:
                    self._by_token[(owner, _token_key(message.progress_token))] = call
            return
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

    def sent_on(self, exchange_id: int, request_id: Any) -> Call | None:
        """The call whose request went out on `exchange_id` with `request_id`."""
        return self._by_exchange.get((exchange_id, request_id))


def collect_calls(events: list[TapEvent]) -> list[Call]:
    """Every request in `events`, in the order it was sent, with its progress and response."""
    book = CallBook()
    for event in events:
        book.handle(event)
    return book.calls
