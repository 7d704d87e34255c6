"""Where the tap finds a request again: by the POST that carried it, its id, its token, its task.

`RequestIndex` is the bookkeeping half of the progress tracker: pure lookups, no rules. Most
precise first, a message on a POST's own response stream belongs to the request in that
POST's body (this is all 2026-07-28 has, where ids repeat across independent POSTs);
otherwise it is looked up by (session, requester, id or token), which covers resumed streams,
the standalone GET stream and the 2024-11-05 SSE stream.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mcp_tap.analysis.progress_stats import (
    ProgressStats,
    RequestState,
    TrackedRequest,
    coerced_twin,
    typed_key,
)
from mcp_tap.protocol.events import Direction, ExchangeOpened, MessageSeen, StreamKind, header

ENDED_MEMORY = 4096  # ended requests remembered for late messages (ids and tokens)
OWN_STREAMS = (StreamKind.POST_SSE, StreamKind.JSON_RESPONSE)  # a POST's own response body

Key = tuple[str | None, Direction, tuple[str, str | int]]
"""(session id, direction the request travelled, typed id or token)."""


@dataclass
class ExchangeState:
    """What the index knows of one HTTP exchange."""

    session_id: str | None
    version_header: str | None  # MCP-Protocol-Version
    resumed: bool  # a GET carrying Last-Event-ID replays an earlier stream
    status: int | None = None
    stream: StreamKind | None = None
    requests: list[TrackedRequest] = field(default_factory=list)  # carried in its body
    jsonrpc_error: bool = False  # its response body held a JSON-RPC error response


class _Recent(OrderedDict[Key, TrackedRequest]):
    """Remembers the most recent entries only: late messages need recent history, not all."""

    def remember(self, key: Key, request: TrackedRequest) -> None:
        self[key] = request
        self.move_to_end(key)
        if len(self) > ENDED_MEMORY:
            self.popitem(last=False)


def opposite(direction: Direction) -> Direction:
    """The direction an answer to a message travels."""
    if direction is Direction.CLIENT_TO_SERVER:
        return Direction.SERVER_TO_CLIENT
    return Direction.CLIENT_TO_SERVER


def id_key(request: TrackedRequest) -> Key | None:
    """The index key of a request's id, None when it has no usable id."""
    if request.request_id is None:
        return None
    return (request.session_id, request.direction, typed_key(request.request_id))


def token_key(request: TrackedRequest) -> Key:
    """The index key of a request's (valid) progress token."""
    return (request.session_id, request.direction, typed_key(request.token))


class RequestIndex:
    """Every request the tap saw, findable again by exchange, id, token and task."""

    def __init__(self) -> None:
        self.exchanges: dict[int, ExchangeState] = {}
        self.revisions: dict[str, str] = {}  # session id -> negotiated revision
        self._active: dict[Key, TrackedRequest] = {}  # unanswered, by id
        self._ended = _Recent()
        self._tokens: dict[Key, TrackedRequest] = {}  # the newest live holder of each token
        self._ended_tokens = _Recent()
        self._live: dict[int, TrackedRequest] = {}  # every live request with a token, by id()
        self._tasks: dict[tuple[str | None, str], TrackedRequest] = {}

    # --- exchanges ------------------------------------------------------------------------

    def opened(self, event: ExchangeOpened) -> None:
        """A new HTTP exchange."""
        resumed = header(event.headers, "last-event-id") is not None
        version = header(event.headers, "mcp-protocol-version")
        self.exchanges[event.exchange_id] = ExchangeState(event.session_id, version, resumed)

    def exchange(self, exchange_id: int, session_id: str | None) -> ExchangeState:
        """An exchange's state (made up from this event if the tap joined mid-exchange)."""
        info = self.exchanges.get(exchange_id)
        if info is None:
            info = self.exchanges[exchange_id] = ExchangeState(session_id, None, False)
        return info

    # --- requests -------------------------------------------------------------------------

    def add(self, request: TrackedRequest) -> None:
        """A request was sent; the newest request owns its id (2026-07-28 ids repeat)."""
        self.exchange(request.exchange_id, request.session_id).requests.append(request)
        key = id_key(request)
        if key is not None:
            self._active[key] = request

    def holder(self, key: Key) -> TrackedRequest | None:
        """The live request holding a token key, if any."""
        holder = self._tokens.get(key)
        return holder if holder is not None and holder.live else None

    def twin(self, key: Key, token: str | int) -> TrackedRequest | None:
        """A live request whose token differs from `token` by type only ("1" vs 1)."""
        other = coerced_twin(token)
        return None if other is None else self.holder((key[0], key[1], typed_key(other)))

    def take_token(self, request: TrackedRequest) -> None:
        """`request` (with its progress stats set) now holds its token."""
        self._tokens[token_key(request)] = request
        self._live[id(request)] = request

    def active(
        self, session: str | None, direction: Direction, request_id: Any
    ) -> TrackedRequest | None:
        """The unanswered request with this id."""
        return self._active.get((session, direction, typed_key(request_id)))

    def answered(self, event: MessageSeen) -> TrackedRequest | None:
        """The request a response answers, if the tap saw it."""
        message_id = event.message.id
        assert message_id is not None
        requester = opposite(event.direction)
        own = self._on_own_stream(event, requester, lambda r: r.request_id == message_id)
        key: Key = (event.session_id, requester, typed_key(message_id))
        return own or self._active.get(key) or self._ended.get(key)

    def injected(self, exchange_id: int | None, request_id: Any) -> TrackedRequest | None:
        """The live client request on this exchange with this id: one a `--fault` rule
        answered in the server's place, so no response of the server's will ever come."""
        info = self.exchanges.get(exchange_id) if exchange_id is not None else None
        for request in info.requests if info is not None else ():
            same = repr(request.request_id) == repr(request_id)  # "1" is not 1
            if same and request.live and request.direction is Direction.CLIENT_TO_SERVER:
                return request
        return None

    def refused(self, event: MessageSeen) -> TrackedRequest | None:
        """The request an error on a POST's own stream refuses when its id names none.

        Servers that refuse a request before reading it answer `"id": null` (or an id of their
        own): on the response to a POST that carried one live request, it is that request's.
        """
        if event.stream not in OWN_STREAMS:
            return None
        info = self.exchanges.get(event.exchange_id)
        requester = opposite(event.direction)
        live = [r for r in info.requests if r.direction is requester and r.live] if info else []
        return live[0] if len(live) == 1 else None

    def reporting(self, event: MessageSeen, token: str | int) -> TrackedRequest | None:
        """The request a progress notification reports on, live or recently ended."""
        requester = opposite(event.direction)
        own = self._on_own_stream(event, requester, lambda r: r.has_token and r.token == token)
        key: Key = (event.session_id, requester, typed_key(token))
        return own or self._tokens.get(key) or self._ended_tokens.get(key)

    def start_task(self, request: TrackedRequest, task_id: str) -> None:
        """The request was answered with a task: its id is done, its token lives on."""
        request.state, request.task_id = RequestState.TASK, task_id
        self._tasks[(request.session_id, task_id)] = request
        key = id_key(request)
        if key is not None and self._active.get(key) is request:
            del self._active[key]

    def pop_task(self, session: str | None, task_id: str) -> TrackedRequest | None:
        """The request whose task this is, forgotten as a task."""
        return self._tasks.pop((session, task_id), None)

    def finish(self, request: TrackedRequest) -> None:
        """The request ended (its state is set): move it from the live tables to the recent."""
        key = id_key(request)
        if key is not None:
            if self._active.get(key) is request:
                del self._active[key]
            self._ended.remember(key, request)
        if request.progress is not None:
            self._live.pop(id(request), None)
            tkey = token_key(request)
            if self._tokens.get(tkey) is request:
                del self._tokens[tkey]
            self._ended_tokens.remember(tkey, request)

    def live_streams(self) -> list[ProgressStats]:
        """Progress stats of every live request with a token, oldest first."""
        return [r.progress for r in self._live.values() if r.progress is not None]

    def unanswered(self) -> list[TrackedRequest]:
        """Requests still waiting for a response."""
        return [r for r in self._active.values() if r.state is RequestState.ACTIVE]

    def _on_own_stream(
        self, event: MessageSeen, requester: Direction, matches: Callable[[TrackedRequest], bool]
    ) -> TrackedRequest | None:
        """The request of this POST that `matches`, when the message came on its own stream."""
        if event.stream not in OWN_STREAMS:
            return None
        info = self.exchanges.get(event.exchange_id)
        found = None
        for request in info.requests if info else ():
            if request.direction is requester and matches(request):
                found = request
                if request.live:
                    return request
        return found
