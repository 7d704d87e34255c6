"""Tap events to plain data (dicts of str, int, float, list) and back.

One mapping serves the YAML recording, `--jsonl` output and anything else that stores or
ships events, so a recording read back yields the same events the proxy published.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Any

from mcp_tap.protocol.event_fields import FIELDS, MESSAGE_FIELDS, field_problem
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
# Fields without a default, which a stored event leaves out when they are None.
OPTIONAL_FIELDS = {
    cls: tuple(
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    )
    for cls in EVENT_TYPES.values()
}


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
    if not isinstance(type_name, str) or type_name not in EVENT_TYPES:  # may be unhashable
        raise DecodeError(f"unknown event type {type_name!r:.60}")
    cls = EVENT_TYPES[type_name]
    problem = field_problem(data, FIELDS[type_name])
    if problem is not None:
        raise DecodeError(f"{type_name} event: {problem}")
    values = {k: v for k, v in data.items() if k != "type"}
    try:
        if "headers" in values:
            values["headers"] = tuple((str(n), str(v)) for n, v in values["headers"])
        if "message" in values:
            values["message"] = message_from_dict(values["message"])
        for name, enum_type in _ENUMS:
            if values.get(name) is not None:
                values[name] = _member(enum_type, values[name], name)
        for name in OPTIONAL_FIELDS[cls]:  # None fields were left out when stored
            values.setdefault(name, None)
        return cls(**values)  # type: ignore[no-any-return]
    except (TypeError, ValueError) as error:
        raise DecodeError(f"{type_name} event: {_one_line(error)}") from None


_ENUMS: tuple[tuple[str, type[enum.StrEnum]], ...] = (
    ("direction", Direction),
    ("stream", StreamKind),
    ("severity", Severity),
)


def _member(enum_type: type[enum.StrEnum], value: Any, name: str) -> Any:
    """`enum_type(value)`, or a DecodeError naming the field and what it may be."""
    try:
        return enum_type(value)
    except (TypeError, ValueError):
        choices = ", ".join(member.value for member in enum_type)
        raise DecodeError(f"field `{name}` must be one of {choices}, not {value!r:.60}") from None


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())


def message_from_dict(data: Any) -> RpcMessage:
    """Rebuild an `RpcMessage`, re-deriving method, id and token from the stored JSON."""
    from mcp_tap.protocol.jsonrpc import classify_value

    if not isinstance(data, dict):
        raise DecodeError("a message must be a mapping")
    problem = field_problem(data, MESSAGE_FIELDS, "message.")
    if problem is not None:
        raise DecodeError(problem)
    kind = _member(MessageKind, data.get("kind", "invalid"), "message.kind")
    if "raw" in data or kind is MessageKind.ENDPOINT:
        return RpcMessage(kind, raw=str(data.get("raw", "")), problem=data.get("problem"))
    message = classify_value(data.get("json"), batch_index=data.get("batch_index"))
    if kind is MessageKind.INVALID:
        # kept INVALID as it was seen (e.g. JSON that is not JSON-RPC), not re-judged, and
        # with the problem stored then ("empty batch" re-classifies as "not a JSON object")
        return dataclasses.replace(message, kind=kind, problem=data.get("problem", message.problem))
    return message
