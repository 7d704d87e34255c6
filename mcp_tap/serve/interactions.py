"""What a recording's server said to each request: the interactions a mock answers from.

Sans-IO: events in, interactions out. An interaction is one recorded client request with what
the server sent for it, each at its offset from the request: the notifications on that
request's own stream (progress, logs, list changes) and the response. Progress is tied to a
request by its token within the request's owner (its session, or its own exchange for a
2026-07-28 POST), so a 2024-11-05 recording, whose answers come on the GET stream, gives the
same interactions as one whose answers come on the POST.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mcp_tap.analysis.calls import CallNumbers, owner_of
from mcp_tap.protocol.events import (
    Direction,
    ExchangeOpened,
    MessageKind,
    MessageSeen,
    StreamKind,
    TapEvent,
)

LIFECYCLE_METHODS = frozenset({"initialize", "server/discover", "ping"})
"""Answered by method alone, and never reported unused: every client era sends its own."""
HANDSHAKE_ERA, STATELESS_ERA, LEGACY_SSE_ERA = "handshake", "2026-07-28", "2024-11-05-sse"
STATELESS_VERSION = "2026-07-28"
META_VERSION_KEY = "io.modelcontextprotocol/protocolVersion"
REDACTED_PREFIX = "<redacted:"
LEGACY_QUERY_KEYS = ("session_id=", "sessionId=")  # a 2024-11-05 endpoint's session query
RETRY_KEYS = ("inputResponses", "requestState")  # what a 2026-07-28 retry adds to a call


def call_params(request: dict[str, Any]) -> dict[str, Any]:
    """A request's params (empty when it has none)."""
    params = request.get("params")
    return params if isinstance(params, dict) else {}


def is_retry(request: dict[str, Any]) -> bool:
    """True when `request` retries a call the server answered `input_required` (2026-07-28):
    it carries the client's `inputResponses` or the echoed `requestState` (`retries.py`)."""
    return any(key in call_params(request) for key in RETRY_KEYS)


def original_call(request: dict[str, Any]) -> dict[str, Any]:
    """`request` as the call it retries was: its params without the client's answers."""
    if not is_retry(request):
        return request
    params = {k: v for k, v in call_params(request).items() if k not in RETRY_KEYS}
    return {**request, "params": params}


@dataclass
class Emission:
    """A message the server sent for a request, `offset` seconds after the request arrived.

    When it is itself a request to the client (sampling, elicitation, roots, ping), `answer`
    is what the client answered, `answer_offset` seconds after the call's request.
    """

    offset: float
    payload: dict[str, Any]
    is_progress: bool
    answer: dict[str, Any] | None = None
    answer_offset: float = 0.0
    stream: StreamKind | None = None  # the stream it came on

    @property
    def is_ask(self) -> bool:
        """A request the server sent the client, to be answered before it went on."""
        return "method" in self.payload and "id" in self.payload


@dataclass
class Interaction:
    """One recorded request and the server's side of it."""

    index: int  # position among all served interactions, from 1
    source: str  # the recording it came from
    number: int  # its call number in that recording (`CallNumbers`): how a person names it
    request: dict[str, Any]
    sent_at: float
    owner: str | int
    exchange_id: int
    notifications: list[Emission] = field(default_factory=list)
    response: dict[str, Any] | None = None
    response_offset: float = 0.0
    response_stream: StreamKind | None = None  # json-response, post-sse, legacy-sse...

    @property
    def method(self) -> str:
        method = self.request.get("method")
        return method if isinstance(method, str) else "?"

    @property
    def label(self) -> str:
        """`tools/call download_file (call 2 of download_file-handshake.yaml, t=0.150s)`."""
        params = self.request.get("params")
        name = params.get("name") if isinstance(params, dict) else None
        tool = f" {name}" if isinstance(name, str) else ""
        return f"{self.method}{tool} (call {self.number} of {self.source}, t={self.sent_at:.3f}s)"

    @property
    def is_lifecycle(self) -> bool:
        return self.method in LIFECYCLE_METHODS

    @property
    def had_progress_token(self) -> bool:
        params = self.request.get("params")
        meta = params.get("_meta") if isinstance(params, dict) else None
        return isinstance(meta, dict) and "progressToken" in meta


@dataclass
class RecordedServer:
    """Everything a mock needs from its recordings."""

    interactions: list[Interaction] = field(default_factory=list)
    eras: set[str] = field(default_factory=set)
    redacted_values: int = 0  # `<redacted:...>` strings a client would be served

    def first(self, method: str) -> Interaction | None:
        """The first recorded interaction of `method` that got an answer."""
        for interaction in self.interactions:
            if interaction.method == method and interaction.response is not None:
                return interaction
        return None


def _era(message_payload: dict[str, Any], opened: ExchangeOpened | None) -> str:
    params = message_payload.get("params")
    meta = params.get("_meta") if isinstance(params, dict) else None
    if isinstance(meta, dict) and meta.get(META_VERSION_KEY) == STATELESS_VERSION:
        return STATELESS_ERA
    if opened is not None and any(key in opened.target for key in LEGACY_QUERY_KEYS):
        return LEGACY_SSE_ERA
    return HANDSHAKE_ERA


def count_redacted(value: Any) -> int:
    """How many `<redacted:...>` markers `value` holds."""
    if isinstance(value, str):
        return int(value.startswith(REDACTED_PREFIX))
    if isinstance(value, dict):
        return sum(count_redacted(v) for v in value.values())
    if isinstance(value, list):
        return sum(count_redacted(v) for v in value)
    return 0


def _token_key(token: Any) -> tuple[str, Any]:
    return (type(token).__name__, token)  # "1" and 1 are different tokens


def add_recording(server: RecordedServer, events: list[TapEvent], source: str) -> None:
    """Add the interactions of one recording's events to `server`."""
    opened: dict[int, ExchangeOpened] = {}
    by_id: dict[tuple[str | int, Any], Interaction] = {}
    by_token: dict[tuple[str | int, tuple[str, Any]], Interaction] = {}
    by_exchange: dict[int, Interaction] = {}
    asks: dict[tuple[str | int, tuple[str, Any]], tuple[Interaction, Emission]] = {}
    numbers = CallNumbers()  # the numbers `show --call` gives the same requests
    for event in events:
        number = numbers.see(event)
        if isinstance(event, ExchangeOpened):
            opened[event.exchange_id] = event
            continue
        if not isinstance(event, MessageSeen) or not isinstance(event.message.payload, dict):
            continue
        message, payload, owner = event.message, event.message.payload, owner_of(event)
        if event.direction is Direction.CLIENT_TO_SERVER:
            if message.kind is MessageKind.REQUEST:
                interaction = Interaction(
                    len(server.interactions) + 1,
                    source,
                    number or 0,
                    payload,
                    event.time,
                    owner,
                    event.exchange_id,
                )
                server.interactions.append(interaction)
                server.eras.add(_era(payload, opened.get(event.exchange_id)))
                by_id[(owner, message.id)] = interaction
                by_exchange[event.exchange_id] = interaction
                if message.has_progress_token:
                    by_token[(owner, _token_key(message.progress_token))] = interaction
            elif message.kind in (MessageKind.RESPONSE, MessageKind.ERROR):
                _answered_ask(asks, owner, message.id, payload, event.time)
            continue
        if message.kind is MessageKind.REQUEST:
            # A request to the client while a call was open: re-enacted before its answer.
            caller = _asking_call(server, by_exchange.get(event.exchange_id), owner)
            if caller is not None:
                offset = max(0.0, event.time - caller.sent_at)
                emission = Emission(offset, payload, False, stream=event.stream)
                caller.notifications.append(emission)
                asks[(owner, _token_key(message.id))] = (caller, emission)
            continue
        if message.kind in (MessageKind.RESPONSE, MessageKind.ERROR):
            # An initialize request has no session yet; its response arrives with one.
            asker = by_id.get((owner, message.id)) or by_id.get((event.exchange_id, message.id))
            if asker is not None and asker.response is None:
                asker.response = payload
                asker.response_offset = max(0.0, event.time - asker.sent_at)
                asker.response_stream = event.stream
                server.redacted_values += count_redacted(payload)
        elif message.kind is MessageKind.NOTIFICATION:
            holder: Interaction | None
            progress = message.method == "notifications/progress"
            if progress:
                params = payload.get("params")
                token = params.get("progressToken") if isinstance(params, dict) else None
                holder = by_token.get((owner, _token_key(token)))
            else:
                holder = by_exchange.get(event.exchange_id)  # only what came on its stream
            if holder is not None and holder.response is None:
                offset = max(0.0, event.time - holder.sent_at)
                holder.notifications.append(Emission(offset, payload, progress))
                server.redacted_values += count_redacted(payload)


def _asking_call(
    server: RecordedServer, on_stream: Interaction | None, owner: str | int
) -> Interaction | None:
    """The open call a server's request belongs to: the one whose stream it came on, else
    the latest unanswered call of the same session (stdio, a GET stream)."""
    if on_stream is not None and on_stream.response is None and not on_stream.is_lifecycle:
        return on_stream
    for interaction in reversed(server.interactions):
        if interaction.owner == owner and interaction.response is None:
            if not interaction.is_lifecycle:
                return interaction
    return None


def _answered_ask(
    asks: dict[tuple[str | int, tuple[str, Any]], tuple[Interaction, Emission]],
    owner: str | int,
    request_id: Any,
    payload: dict[str, Any],
    time: float,
) -> None:
    found = asks.pop((owner, _token_key(request_id)), None)
    if found is not None:
        holder, emission = found
        emission.answer = payload
        emission.answer_offset = max(0.0, time - holder.sent_at)


def recorded_server(recordings: list[tuple[str, list[TapEvent]]]) -> RecordedServer:
    """The interactions of several recordings, in order, numbered across all of them."""
    server = RecordedServer()
    for source, events in recordings:
        add_recording(server, events, source)
    return server
