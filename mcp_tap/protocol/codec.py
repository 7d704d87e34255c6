"""Tap events to plain data (dicts of str, int, float, list) and back.

One mapping serves the YAML recording, `--jsonl` output and anything else that stores or
ships events, so a recording read back yields the same events the proxy published.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Any

from mcp_tap.protocol.events import (
    Direction,
    ExchangeClosed,
    ExchangeOpened,
    Fault,
    FaultInjected,
    Finding,
    MessageKind,
    MessageSeen,
    ResponseStarted,
    RpcMessage,
    Severity,
    StreamKind,
    TapEvent,
)

EVENT_TYPES: dict[str, type[Any]] = {
    "exchange-opened": ExchangeOpened,
    "response-started": ResponseStarted,
    "message": MessageSeen,
    "exchange-closed": ExchangeClosed,
    "fault": Fault,
    "fault-injected": FaultInjected,
    "finding": Finding,
}
TYPE_NAMES = {cls: name for name, cls in EVENT_TYPES.items()}
# dataclasses.fields() rebuilds its answer on every call; the recorder asks once per event.
FIELD_NAMES = {cls: tuple(f.name for f in dataclasses.fields(cls)) for cls in EVENT_TYPES.values()}


class DecodeError(ValueError):
    """A stored event that does not describe a tap event."""


def event_to_dict(event: TapEvent) -> dict[str, Any]:
    """A plain-data form of `event`: `type` first, then its fields; None fields left out."""
    data: dict[str, Any] = {"type": TYPE_NAMES[type(event)]}
    for name in FIELD_NAMES[type(event)]:
        value = getattr(event, name)
        if value is None or (name == "extra" and not value):
            continue
        if name == "headers":
            value = [[name, text] for name, text in value]
        elif isinstance(value, RpcMessage):
            value = _message_to_dict(value)
        elif isinstance(value, enum.Enum):  # plain str: YAML safe dumpers refuse enum members
            value = value.value
        data[name] = value
    return data


def event_to_json(event: TapEvent) -> str:
    """One event as one line of JSON, no newline: `--jsonl` and `mcp-tap export --format jsonl`.

    `default=str` because a finding's `extra` or a progress token may hold any JSON value the
    wire carried, and a JSON line must never fail to be written.
    """
    return json.dumps(event_to_dict(event), default=str)


def _message_to_dict(message: RpcMessage) -> dict[str, Any]:
    data: dict[str, Any] = {"kind": message.kind.value}
    if message.raw is not None:
        data["raw"] = message.raw
    else:
        data["json"] = message.payload
    if message.batch_index is not None:
        data["batch_index"] = message.batch_index
    if message.problem is not None:
        data["problem"] = message.problem
    return data


def event_from_dict(data: Any) -> TapEvent:
    """Rebuild a tap event from `event_to_dict` output; raises DecodeError if it cannot."""
    if not isinstance(data, dict):
        raise DecodeError(f"an event must be a mapping, got {type(data).__name__}")
    type_name = data.get("type")
    cls = EVENT_TYPES.get(type_name) if isinstance(type_name, str) else None  # may be unhashable
    if cls is None:
        raise DecodeError(f"unknown event type {data.get('type')!r}")
    values = {k: v for k, v in data.items() if k != "type"}
    try:
        if "headers" in values:
            values["headers"] = tuple((str(n), str(v)) for n, v in values["headers"])
        if "message" in values:
            values["message"] = message_from_dict(values["message"])
        if "direction" in values:
            values["direction"] = Direction(values["direction"])
        if values.get("stream") is not None:
            values["stream"] = StreamKind(values["stream"])
        if "severity" in values:
            values["severity"] = Severity(values["severity"])
        for field in dataclasses.fields(cls):  # None fields were left out when stored
            if (
                field.default is dataclasses.MISSING
                and field.default_factory is dataclasses.MISSING
            ):
                values.setdefault(field.name, None)
        return cls(**values)  # type: ignore[no-any-return]
    except (TypeError, ValueError) as error:
        raise DecodeError(f"bad {data.get('type')} event: {error}") from None


def message_from_dict(data: Any) -> RpcMessage:
    """Rebuild an `RpcMessage`, re-deriving method, id and token from the stored JSON."""
    from mcp_tap.protocol.jsonrpc import classify_value

    if not isinstance(data, dict):
        raise DecodeError("a message must be a mapping")
    kind = MessageKind(data.get("kind", "invalid"))
    if "raw" in data or kind is MessageKind.ENDPOINT:
        return RpcMessage(kind, raw=str(data.get("raw", "")), problem=data.get("problem"))
    message = classify_value(data.get("json"), batch_index=data.get("batch_index"))
    if kind is MessageKind.INVALID:
        # kept INVALID as it was seen (e.g. JSON that is not JSON-RPC), not re-judged, and
        # with the problem stored then ("empty batch" re-classifies as "not a JSON object")
        return dataclasses.replace(message, kind=kind, problem=data.get("problem", message.problem))
    return message
