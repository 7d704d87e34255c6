"""The ids that tie answers to requests: unknown, answered twice, reused.

Each side's request ids are kept per session (`scopes`): the ones waiting for an answer, the
ones answered, and, for handshake revisions, every one used, since those revisions say an id
"MUST NOT have been previously used by the requestor within the same session"; 2026-07-28
only forbids one still waiting for its response.

An answer to an id the tap never saw is a fault only where the tap saw the scope from its
start: a stdio session, a session whose `initialize` it carried, a sessionless POST (its
request is in its own body). A proxy started in the middle of a session judges no such
answer. An answer repeated with the SSE event id it first came with is a redelivery (a
resumed stream), not a second answer.
"""

from __future__ import annotations

from collections.abc import Callable

from mcp_tap.analysis.bounded import DEFAULT_JUDGE_MEMORY, Bounded
from mcp_tap.analysis.rules import REQUEST_ID_REUSED, RESPONSE_DUPLICATE, RESPONSE_UNKNOWN_ID
from mcp_tap.analysis.scopes import (
    ScopeTable,
    TypedId,
    finding_at,
    modern_version,
    opposite,
    typed,
)
from mcp_tap.protocol.events import Direction, MessageKind, MessageSeen, StreamKind, TapEvent

_Key = tuple[Direction, TypedId]  # the requester and its id


class _Ids:
    def __init__(self, complete: bool, memory: int) -> None:
        self.complete = complete  # the tap saw the scope from its start
        self.pending: dict[_Key, str] = {}  # -> the request's method
        self.answered = Bounded(memory)  # key -> SSE id of its answer
        self.used = Bounded(memory)  # key -> True: handshake-era ids ever sent


class IdChecker:
    """Subscriber publishing a finding for each answer or id that breaks the id rules."""

    def __init__(
        self, publish: Callable[[TapEvent], None], memory: int = DEFAULT_JUDGE_MEMORY
    ) -> None:
        self.publish = publish
        self.memory = memory
        self._scopes: ScopeTable[_Ids] = ScopeTable(memory)

    def handle(self, event: TapEvent) -> None:
        if not isinstance(event, MessageSeen):
            return
        kind = event.message.kind
        if kind is MessageKind.REQUEST:
            self._on_request(event)
        elif kind in (MessageKind.RESPONSE, MessageKind.ERROR):
            self._on_answer(event)
        elif kind is MessageKind.NOTIFICATION:
            self._scope(event)

    def close(self) -> None:
        pass

    def _scope(self, event: MessageSeen) -> _Ids:
        ids = self._scopes.get(event)
        if ids is None:
            message = event.message
            starts = message.kind is MessageKind.REQUEST and (
                message.method == "initialize"
                or (event.session_id is None and event.stream is StreamKind.REQUEST_BODY)
            )
            ids = self._scopes.put(
                event, _Ids(starts or event.stream is StreamKind.STDIO, self.memory)
            )
        return ids

    def _on_request(self, event: MessageSeen) -> None:
        message = event.message
        if message.id is None:
            return
        if message.method == "initialize" and self._scopes.get(event) is None:
            ids = self._scopes.put(event, _Ids(True, self.memory))
        else:
            ids = self._scope(event)
        key = (event.direction, typed(message.id))
        side = "client" if event.direction is Direction.CLIENT_TO_SERVER else "server"
        legacy = modern_version(message.payload) is None
        if key in ids.pending:
            earlier = ids.pending[key]
            detail = f"{side} request {message.method} reuses id {message.id!r} of its "
            detail += f"{earlier} request, still waiting for its response"
            self.publish(finding_at(event, REQUEST_ID_REUSED, detail))
        elif legacy and key in ids.used:
            detail = f"{side} request {message.method} reuses id {message.id!r}, already used "
            detail += "in this session"
            self.publish(finding_at(event, REQUEST_ID_REUSED, detail))
        ids.pending[key] = message.method or ""
        ids.answered.pop(key, None)
        if legacy:
            ids.used.put(key, True)

    def _on_answer(self, event: MessageSeen) -> None:
        message = event.message
        if message.id is None:
            return  # a parse error's answer: JSON-RPC says its id is null
        ids = self._scope(event)
        key = (opposite(event.direction), typed(message.id))
        if ids.pending.pop(key, None) is not None:
            ids.answered.put(key, event.sse_id)
            return
        side = "server" if event.direction is Direction.SERVER_TO_CLIENT else "client"
        if key in ids.answered:
            first = ids.answered[key]
            if first is not None and first == event.sse_id:
                return  # the same SSE event again, on a resumed stream
            detail = f"{side} answered id {message.id!r} a second time"
            self.publish(finding_at(event, RESPONSE_DUPLICATE, detail))
        elif ids.complete:
            detail = f"{side} {message.kind.value} for id {message.id!r}, which no request "
            detail += "of the other side carries"
            self.publish(finding_at(event, RESPONSE_UNKNOWN_ID, detail))
