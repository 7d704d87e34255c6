"""Which revision each message speaks, and which request a response answers.

The bookkeeping half of the schema checks: no rules. A message's revision is, most precise
first, the one it names itself (2026-07-28's `_meta` envelope), its exchange's
`MCP-Protocol-Version` header, or the one its session negotiated (an `initialize` result).
A response is judged by the revision of its request, except the `initialize` result, which
is where the negotiated one comes from. Sessionless traffic (2026-07-28 HTTP, stdio) is
keyed by its exchange: a POST carries its request and its answer, a stdio session is one
exchange.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mcp_tap.analysis.bounded import DEFAULT_JUDGE_MEMORY, Bounded
from mcp_tap.protocol.events import (
    Direction,
    ExchangeOpened,
    MessageKind,
    MessageSeen,
    header,
)

SessionKey = tuple[str | None, int | None]
"""(session id, None) for a session; (None, exchange id) for sessionless traffic."""


@dataclass(frozen=True, slots=True)
class SentRequest:
    """What a response is judged by: its request's method, params and revision."""

    method: str
    params: Any
    revision: str | None


def session_key(event: MessageSeen) -> SessionKey:
    """Where a message's negotiated revision and pending requests are kept."""
    if event.session_id is not None:
        return (event.session_id, None)
    return (None, event.exchange_id)


class RevisionIndex:
    """Revisions by session and exchange; requests by (session, requester, typed id)."""

    def __init__(self, memory: int = DEFAULT_JUDGE_MEMORY) -> None:
        """`memory`: exchanges, sessions and unanswered requests kept (`--judge-memory`)."""
        self._headers = Bounded(memory)  # exchange id -> MCP-Protocol-Version
        self._negotiated = Bounded(memory)  # session key -> revision
        self._pending = Bounded(memory)  # (key, requester, typed id) -> SentRequest

    def opened(self, event: ExchangeOpened) -> None:
        """Note an exchange's MCP-Protocol-Version header."""
        version = header(event.headers, "mcp-protocol-version")
        if version is not None:
            self._headers.put(event.exchange_id, version)

    def revision_of(self, event: MessageSeen) -> str | None:
        """The revision a request or a notification is judged by, None when nothing says."""
        message = event.message
        named = message.protocol_version
        if named is not None:
            if message.method != "initialize":
                self._negotiated.put(session_key(event), named)
            return named  # an initialize request is judged by the revision it offers
        found = self._headers.get(event.exchange_id)
        return found if found is not None else self._negotiated.get(session_key(event))

    def sent(self, event: MessageSeen, revision: str | None) -> None:
        """A request was sent: remember it for its response."""
        message = event.message
        params = message.payload.get("params")
        key = (session_key(event), event.direction, _typed(message.id))
        self._pending.put(key, SentRequest(message.method or "", params, revision))

    def answered(self, event: MessageSeen) -> SentRequest | None:
        """The request a response answers (forgotten now), None when the tap missed it."""
        requester = Direction.CLIENT_TO_SERVER
        if event.direction is Direction.CLIENT_TO_SERVER:
            requester = Direction.SERVER_TO_CLIENT
        keys = [session_key(event)]
        if event.session_id is not None:  # the answer to initialize brings the session's id
            keys.append((None, event.exchange_id))
        request: SentRequest | None = None
        for key in keys:
            request = self._pending.pop((key, requester, _typed(event.message.id)), None)
            if request is not None:
                break
        else:
            return None
        result = event.message.payload.get("result")
        if request.method == "initialize" and event.message.kind is MessageKind.RESPONSE:
            negotiated = result.get("protocolVersion") if isinstance(result, dict) else None
            if isinstance(negotiated, str):
                # the session (and, before its id is known, the exchange) speaks it from now
                self._negotiated.put(session_key(event), negotiated)
                self._negotiated.put((None, event.exchange_id), negotiated)
                return SentRequest(request.method, request.params, negotiated)
        return request


def _typed(value: Any) -> tuple[str, Any]:
    """An id with its type: "1" and 1 are different ids."""
    return (type(value).__name__, value)
