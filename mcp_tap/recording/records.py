"""Tap events as compact records, for the pipe between mcp-tap and its writer process.

The writer process (`process.py`) redacts and writes events as the writer thread would; what
crosses the pipe must rebuild the very same events (though the documents of messages and of
an exchange's other events are written from their records directly,
`DocumentSink.write_records`), and cost the forwarding process far
less than writing them as YAML does. A record is a tuple: the event type's number, then each
field in order, enums as their values and a message as a tuple of its own fields. A batch of
records is one `marshal` call: exact for every JSON value (1, 1.0 and True stay apart, NaN,
integers past 64 bits and lone surrogates survive), and several times faster than pickling
dataclasses. A batch holding something marshal cannot write (a finding's `extra` may hold any
object) goes by pickle instead, and an event neither can carry becomes a `recording-error`
fault, as an event the YAML emitter refuses does.

The parts of a message that tend to repeat verbatim (a tools/list result, a client's params)
cross as their JSON text (`bytes`, which no JSON value is), when orjson read the message and
so writes them back exactly: one call here, and none in the writer process, which keys the
YAML it wrote lately by that text (`yaml_emit.Memo`) and parses it only when it has not.
Rebuilding a 2.5 KB tools/list result from marshal's form cost that process 30 us.

A frame on the pipe is its payload's length (4 bytes, big-endian), a format byte and the
payload.
"""

from __future__ import annotations

import marshal
import pickle
import struct
from typing import Any

import orjson

from mcp_tap.protocol.codec import EVENT_TYPES, FIELD_NAMES, TYPE_NAMES
from mcp_tap.protocol.events import (
    Direction,
    ExchangeClosed,
    ExchangeOpened,
    Fault,
    MessageKind,
    MessageSeen,
    ResponseStarted,
    RpcMessage,
    Severity,
    StreamKind,
    TapEvent,
)

HEAD = struct.Struct(">I")
MARSHAL, PICKLE = b"m", b"p"
_TYPES: tuple[type[Any], ...] = tuple(EVENT_TYPES.values())
_NUMBERS = {cls: number for number, cls in enumerate(_TYPES)}
_FIELDS = tuple(FIELD_NAMES[cls] for cls in _TYPES)
_MESSAGE_FIELDS = (
    "kind", "payload", "raw", "method", "id", "progress_token", "has_progress_token",
    "protocol_version", "batch_index", "problem",
)  # fmt: skip
MESSAGE_SEEN = _NUMBERS[MessageSeen]  # a record's first item, for a MessageSeen
_OPENED, _STARTED, _CLOSED = (
    _NUMBERS[cls] for cls in (ExchangeOpened, ResponseStarted, ExchangeClosed)
)
# The records of an exchange's other events, which hold plain values only: their number ->
# the type's name in a recording and its fields, in record order.
EXCHANGE_RECORDS = {
    _NUMBERS[cls]: (TYPE_NAMES[cls], FIELD_NAMES[cls])
    for cls in (ExchangeOpened, ResponseStarted, ExchangeClosed)
}
_KINDS = {member.value: member for member in MessageKind}  # faster than calling the enum
_DIRECTIONS = {member.value: member for member in Direction}
_STREAMS = {member.value: member for member in StreamKind}
_ENUM_FIELDS = {"direction": Direction, "stream": StreamKind, "severity": Severity}
REPEATING_PARTS = ("result", "params", "error")  # a message's parts that tend to repeat
CHANGING_PARAMS = "notifications/progress"  # whose params change every time


def to_record(event: TapEvent) -> tuple[Any, ...]:
    """The event as a tuple of plain values (see the module docstring)."""
    if type(event) is MessageSeen:  # nearly every event: spelled out, 3-4x faster
        m = event.message
        payload = m.payload
        if m.json_exact and type(payload) is dict and m.method != CHANGING_PARAMS:
            payload = _parts_as_text(payload)
        message = (
            m.kind._value_, payload, m.raw, m.method, m.id, m.progress_token,
            m.has_progress_token, m.protocol_version, m.batch_index, m.problem,
        )  # fmt: skip
        return (
            MESSAGE_SEEN, event.exchange_id, event.time, event.direction._value_,
            event.stream._value_, event.session_id, message, event.sse_id, event.sse_event,
        )  # fmt: skip
    if type(event) is ExchangeOpened:  # and an exchange's other events, with every message
        return (
            _OPENED, event.exchange_id, event.time, event.method, event.target, event.headers,
            event.session_id, event.origin,
        )  # fmt: skip
    if type(event) is ResponseStarted:
        stream = event.stream._value_ if event.stream is not None else None
        return (
            _STARTED, event.exchange_id, event.time, event.status, event.headers, stream,
            event.session_id,
        )  # fmt: skip
    if type(event) is ExchangeClosed:
        return (_CLOSED, event.exchange_id, event.time, event.reason, event.bytes_to_client)
    record: list[Any] = [_NUMBERS[type(event)]]
    for name in FIELD_NAMES[type(event)]:
        value = getattr(event, name)
        kind = type(value)
        if kind is RpcMessage:
            value = tuple(getattr(value, field) for field in _MESSAGE_FIELDS)
            value = (value[0].value, *value[1:])
        elif kind is Direction or kind is StreamKind or kind is Severity:
            value = value.value
        record.append(value)
    return tuple(record)


def from_record(record: tuple[Any, ...]) -> TapEvent:
    """The event `to_record` was given."""
    cls = _TYPES[record[0]]
    if cls is MessageSeen:
        number, exchange_id, time, direction, stream, session, message, sse_id, event = record
        payload = message[1]
        if type(payload) is dict:
            payload = {
                key: orjson.loads(value) if type(value) is bytes else value
                for key, value in payload.items()
            }
        rpc = RpcMessage(_KINDS[message[0]], payload, *message[2:])
        return MessageSeen(
            exchange_id, time, _DIRECTIONS[direction], _STREAMS[stream], session, rpc, sse_id, event
        )
    values = dict(zip(_FIELDS[record[0]], record[1:], strict=True))
    for name, value in values.items():
        if value is None:
            continue
        if name == "message":
            values[name] = RpcMessage(MessageKind(value[0]), *value[1:])
        elif name in _ENUM_FIELDS:
            values[name] = _ENUM_FIELDS[name](value)
    return cls(**values)  # type: ignore[no-any-return]


def encode(events: list[TapEvent]) -> bytes:
    """One frame holding `events`, in order."""
    return encode_records([safe_record(event) for event in events])


def encode_records(records: list[tuple[Any, ...]]) -> bytes:
    """One frame holding `records` (`safe_record`'s), in order."""
    try:
        form, payload = MARSHAL, marshal.dumps(records)
    except ValueError:  # an object marshal does not know, in a finding's `extra`, say
        form, payload = PICKLE, pickle.dumps([_picklable(r) for r in records], 5)
    return HEAD.pack(len(payload) + 1) + form + payload


def decode_records(frame: bytes | memoryview) -> list[tuple[Any, ...]]:
    """The records of one frame's body (its format byte and payload)."""
    form, payload = bytes(frame[:1]), frame[1:]
    return marshal.loads(payload) if form == MARSHAL else pickle.loads(payload)  # type: ignore[no-any-return]


def split_frames(buffer: bytearray) -> list[memoryview]:
    """The complete frames' bodies at the start of `buffer`, which keeps the rest."""
    bodies: list[memoryview] = []
    start, view = 0, memoryview(bytes(buffer))
    while len(view) - start >= HEAD.size:
        (length,) = HEAD.unpack_from(view, start)
        if len(view) - start - HEAD.size < length:
            break
        bodies.append(view[start + HEAD.size : start + HEAD.size + length])
        start += HEAD.size + length
    del buffer[:start]
    return bodies


def _parts_as_text(payload: dict[str, Any]) -> dict[str, Any]:
    """`payload`, its repeating parts (lists and objects) as their JSON text: a copy, if any.
    Only for a payload orjson read (`RpcMessage.json_exact`): its text names it exactly."""
    copied: dict[str, Any] | None = None
    for key in REPEATING_PARTS:
        value = payload.get(key)
        if type(value) is dict or type(value) is list:  # a scalar costs less as it is
            if copied is None:
                copied = dict(payload)  # the event's own payload is shared with the judges
            copied[key] = orjson.dumps(value)
    return copied if copied is not None else payload


def safe_record(event: TapEvent) -> tuple[Any, ...]:
    """`to_record`, or for an event it cannot take, a `recording-error` fault's record."""
    try:
        return to_record(event)
    except Exception as error:  # one odd event must cost one document, not the recording
        return to_record(_not_recorded(event, error))


def _picklable(record: tuple[Any, ...]) -> tuple[Any, ...]:
    try:
        pickle.dumps(record, 5)
        return record
    except Exception as error:
        return to_record(_not_recorded(from_record(record), error))


def _not_recorded(event: TapEvent, error: Exception) -> Fault:
    exchange_id = getattr(event, "exchange_id", None)
    return Fault(event.time, exchange_id, "recording-error", f"not recorded: {error}")
