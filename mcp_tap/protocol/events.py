"""The tap event vocabulary: the one language every mcp-tap module speaks.

The proxy (and later replay and `show`) publishes these; the recorder, the progress tracker
and the console view subscribe to them. Events are small immutable dataclasses so that they
can be handed to other tasks and threads without copying.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Protocol

Headers = tuple[tuple[str, str], ...]
"""HTTP headers as (lower-case name, value) pairs, in wire order, duplicates kept."""


def header(headers: Headers, name: str) -> str | None:
    """The first value of a header (names are stored lower-case)."""
    for key, value in headers:
        if key == name:
            return value
    return None


class Direction(enum.StrEnum):
    """Which way a message travels."""

    CLIENT_TO_SERVER = "client->server"
    SERVER_TO_CLIENT = "server->client"


class StreamKind(enum.StrEnum):
    """The HTTP body a message was carried in, or `stdio` for a stdio server's pipes."""

    REQUEST_BODY = "request-body"  # the body of a client's POST
    JSON_RESPONSE = "json-response"  # a POST answered by one application/json body
    POST_SSE = "post-sse"  # a POST answered by a text/event-stream
    GET_SSE = "get-sse"  # a streamable-HTTP GET stream: standalone, or resumed with Last-Event-ID
    LEGACY_SSE = "legacy-sse"  # the 2024-11-05 HTTP+SSE transport's GET stream
    STDIO = "stdio"  # a line on a stdio server's stdin or stdout (recording format version 2)


class MessageKind(enum.StrEnum):
    """What a JSON-RPC message is (see `jsonrpc.classify`)."""

    REQUEST = "request"
    NOTIFICATION = "notification"
    RESPONSE = "response"  # a success response: has `result`
    ERROR = "error"  # an error response: has `error`
    INVALID = "invalid"  # not valid JSON, or JSON that is not a JSON-RPC message
    ENDPOINT = "endpoint"  # the 2024-11-05 `endpoint` SSE event (its data is a URL, not JSON)


class Severity(enum.StrEnum):
    """How much a finding matters."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class RpcMessage:
    """One classified JSON-RPC message (an element of a batch counts as one message)."""

    kind: MessageKind
    payload: Any = None  # the parsed JSON value; None when `raw` is set
    raw: str | None = None  # the text as received, kept only when it did not parse as JSON
    method: str | None = None
    id: str | int | None = None  # request/response id, exactly as sent ("1" and 1 differ)
    progress_token: Any = None  # params._meta.progressToken as sent (may be an invalid type)
    has_progress_token: bool = False  # True when the key is present, even if its value is null
    protocol_version: str | None = None  # the revision this message itself names, if any
    batch_index: int | None = None  # position inside a JSON-RPC batch, None when not batched
    problem: str | None = None  # why the message is INVALID
    # The payload is as orjson read it: no NaN, infinity or integer past 64 bits, so its
    # orjson text names it exactly (the recorder sends its repeating parts as that text).
    json_exact: bool = field(default=False, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ExchangeOpened:
    """A client's HTTP request reached the proxy (before it is forwarded)."""

    exchange_id: int
    time: float  # seconds since the tap started (monotonic)
    method: str  # HTTP method
    target: str  # path and query, exactly as the client sent them
    headers: Headers
    session_id: str | None  # Mcp-Session-Id, or the 2024-11-05 session query parameter
    # `https://host:port` the client asked for, in forward mode (`proxy --forward`); None
    # when the proxy had one target (reverse mode), stdio, replay and serve
    origin: str | None = None


@dataclass(frozen=True, slots=True)
class ResponseStarted:
    """The upstream answered an exchange with a status line and headers."""

    exchange_id: int
    time: float
    status: int
    headers: Headers
    stream: StreamKind | None  # how the body carries messages; None when it carries none
    session_id: str | None  # the session this response belongs to (may be newly minted)


@dataclass(frozen=True, slots=True)
class MessageSeen:
    """One JSON-RPC message crossed the proxy."""

    exchange_id: int
    time: float
    direction: Direction
    stream: StreamKind
    session_id: str | None
    message: RpcMessage
    sse_id: str | None = None  # the SSE `id:` of the event that carried it
    sse_event: str | None = None  # the SSE `event:` type when not the default "message"


@dataclass(frozen=True, slots=True)
class ExchangeClosed:
    """An exchange ended: the response body finished, or one side went away."""

    exchange_id: int
    time: float
    reason: str  # "complete", "client-disconnected", "upstream-closed", "upstream-error"
    bytes_to_client: int = 0


@dataclass(frozen=True, slots=True)
class Fault:
    """Something went wrong that the user should know about (upstream down, reset, stall...)."""

    time: float
    exchange_id: int | None
    kind: str  # a short slug: "upstream-unreachable", "upstream-timeout", "upstream-reset", ...
    detail: str  # one human-readable line


@dataclass(frozen=True, slots=True)
class FaultInjected:
    """mcp-tap broke the traffic on purpose, by a `--fault` rule: never the server's doing."""

    time: float
    exchange_id: int | None
    rule: str  # the rule as the user gave it
    action: str  # the rule's action: "error", "status", "drop-stream", "delay", "kill", ...
    detail: str  # one human-readable line: what was done, to which message
    session_id: str | None = None
    request_id: str | int | None = None  # the call it touched, when it belongs to one
    direction: Direction | None = None  # which way the message it hit was going


@dataclass(frozen=True, slots=True)
class Finding:
    """A protocol rule that a message broke or an observation about it, named by `rule`."""

    time: float
    severity: Severity
    rule: str  # a short stable slug, e.g. "progress-not-increasing"
    detail: str  # one human-readable line
    exchange_id: int | None = None
    session_id: str | None = None
    request_id: str | int | None = None
    progress_token: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


TapEvent = (
    ExchangeOpened
    | ResponseStarted
    | MessageSeen
    | ExchangeClosed
    | Fault
    | FaultInjected
    | Finding
)


class Subscriber(Protocol):
    """Anything that wants tap events: the recorder, the tracker, the views.

    `handle` is called on the event loop, in publication order, and must return quickly:
    a subscriber that does slow work (disk, rendering) hands it to its own thread or task.
    `close` is called once when the tap shuts down.
    """

    def handle(self, event: TapEvent) -> None: ...

    def close(self) -> None: ...
