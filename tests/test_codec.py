"""Tap events to plain data and back: recordings and --jsonl must yield the same events."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcp_tap.protocol.codec import DecodeError, event_from_dict, event_to_dict, message_from_dict
from mcp_tap.protocol.events import (
    Direction,
    ExchangeClosed,
    ExchangeOpened,
    Fault,
    Finding,
    MessageKind,
    MessageSeen,
    ResponseStarted,
    RpcMessage,
    Severity,
    StreamKind,
    TapEvent,
)
from mcp_tap.protocol.jsonrpc import classify_text

HEADERS = (
    ("host", "127.0.0.1:8890"),
    ("content-type", "application/json"),
    ("x-dup", "a"),
    ("x-dup", "b"),
    ("x-unicode", "ünï"),
)


def seen(message: RpcMessage, **kwargs: Any) -> MessageSeen:
    fields: dict[str, Any] = {
        "exchange_id": 3,
        "time": 1.25,
        "direction": Direction.SERVER_TO_CLIENT,
        "stream": StreamKind.POST_SSE,
        "session_id": "sess-1",
        "message": message,
    }
    fields.update(kwargs)
    return MessageSeen(**fields)


def only(text: str) -> RpcMessage:
    [message] = classify_text(text)
    return message


REQUEST = only(
    '{"jsonrpc":"2.0","id":"7","method":"tools/call","params":{"name":"install",'
    '"_meta":{"progressToken":1,"io.modelcontextprotocol/protocolVersion":"2025-11-25"}}}'
)
BATCH = classify_text(
    '[{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","method":"b"},5,'
    '{"jsonrpc":"2.0","id":2,"result":{"protocolVersion":"2025-06-18"}}]'
)

EVENTS: list[TapEvent] = [
    ExchangeOpened(1, 0.0, "POST", "/mcp?x=1&y=%20", HEADERS, "sess-1"),
    ExchangeOpened(2, 0.5, "GET", "/sse", (), None),
    ResponseStarted(1, 0.75, 200, HEADERS, StreamKind.POST_SSE, "sess-1"),
    ResponseStarted(2, 0.75, 202, (), None, None),
    ResponseStarted(
        2, 0.75, 200, (("content-type", "text/event-stream"),), StreamKind.LEGACY_SSE, None
    ),
    seen(REQUEST, direction=Direction.CLIENT_TO_SERVER, stream=StreamKind.REQUEST_BODY),
    seen(
        only(
            '{"jsonrpc":"2.0","method":"notifications/progress","params":'
            '{"progressToken":"t","progress":0.5,"total":1,"message":"½ done"}}'
        ),
        sse_id="0-2",
        sse_event=None,
    ),
    seen(
        only('{"jsonrpc":"2.0","id":7,"result":{"content":[]}}'), sse_id="0-3", sse_event="message"
    ),
    seen(
        only('{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse"}}'),
        stream=StreamKind.JSON_RESPONSE,
    ),
    seen(
        only(
            '{"jsonrpc":"2.0","id":0,"method":"initialize","params":'
            '{"protocolVersion":"2025-11-25","_meta":{"progressToken":null}}}'
        )
    ),
    seen(only('{"jsonrpc":"2.0","id":1,"method":"x","params":{"_meta":{"progressToken":1.5}}}')),
    seen(only('{"jsonrpc": "2.0", "id": 1, "method": "tools/call"')),  # not JSON: raw kept
    seen(only("")),
    seen(only('"just a string"')),
    seen(only("null")),
    seen(only('{"jsonrpc":"2.0"}')),
    seen(only("[]")),  # INVALID "empty batch"
    seen(
        RpcMessage(MessageKind.ENDPOINT, raw="/messages/?session_id=abc"),
        stream=StreamKind.LEGACY_SSE,
        sse_event="endpoint",
        session_id=None,
    ),
    *[seen(message, sse_id=f"b-{i}") for i, message in enumerate(BATCH)],
    ExchangeClosed(1, 2.0, "complete", 1234),
    ExchangeClosed(2, 2.5, "client-disconnected"),
    Fault(3.0, None, "upstream-unreachable", "connection refused: 127.0.0.1:9000"),
    Fault(3.5, 4, "upstream-reset", "peer reset ünï"),
    Finding(4.0, Severity.WARNING, "progress-not-increasing", "0.5 after 0.75"),
    Finding(
        4.5,
        Severity.ERROR,
        "progress-token-type",
        "a float token",
        exchange_id=0,
        session_id="sess-1",
        request_id=0,
        progress_token=1.5,
        extra={"previous": 0.75, "values": [1, "two", None], "nested": {"a": {"b": []}}},
    ),
    Finding(5.0, Severity.INFO, "note", "string request id", request_id="0", progress_token="tok"),
    Finding(5.5, Severity.INFO, "bool token", "kept as sent", progress_token=False),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_round_trip(event: TapEvent) -> None:
    data = event_to_dict(event)
    assert event_from_dict(data) == event


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_round_trip_through_json_text(event: TapEvent) -> None:
    text = json.dumps(event_to_dict(event))
    assert event_from_dict(json.loads(text)) == event


def test_every_event_type_and_message_kind_is_covered() -> None:
    assert {type(e) for e in EVENTS} == {
        ExchangeOpened,
        ResponseStarted,
        MessageSeen,
        ExchangeClosed,
        Fault,
        Finding,
    }
    kinds = {e.message.kind for e in EVENTS if isinstance(e, MessageSeen)}
    assert kinds == set(MessageKind)


def test_round_trip_keeps_derived_message_fields() -> None:
    event = event_from_dict(event_to_dict(seen(REQUEST)))
    assert isinstance(event, MessageSeen)
    message = event.message
    assert message.kind is MessageKind.REQUEST
    assert message.id == "7" and message.method == "tools/call"
    assert message.progress_token == 1 and message.has_progress_token
    assert message.protocol_version == "2025-11-25"


def test_round_trip_keeps_batch_indices() -> None:
    for i, message in enumerate(BATCH):
        event = event_from_dict(event_to_dict(seen(message)))
        assert isinstance(event, MessageSeen)
        assert event.message.batch_index == i
        assert event.message == message


def test_raw_text_is_kept_exactly() -> None:
    raw = '{"jsonrpc": "2.0",\n "id": ünï'
    event = seen(only(raw))
    data = event_to_dict(event)
    assert data["message"]["raw"] == raw
    assert "json" not in data["message"]
    decoded = event_from_dict(data)
    assert isinstance(decoded, MessageSeen)
    assert decoded.message.raw == raw
    assert decoded.message.kind is MessageKind.INVALID


def test_dict_shape() -> None:
    data = event_to_dict(ExchangeOpened(1, 0.5, "GET", "/sse", (("a", "1"), ("a", "2")), None))
    assert list(data)[0] == "type"
    assert data == {
        "type": "exchange-opened",
        "exchange_id": 1,
        "time": 0.5,
        "method": "GET",
        "target": "/sse",
        "headers": [["a", "1"], ["a", "2"]],
    }
    message = event_to_dict(seen(REQUEST, sse_id="5"))
    assert message["type"] == "message"
    assert message["direction"] == "server->client"
    assert message["stream"] == "post-sse"
    assert message["sse_id"] == "5"
    assert "sse_event" not in message
    assert message["message"] == {"kind": "request", "json": REQUEST.payload}
    finding = event_to_dict(Finding(1.0, Severity.INFO, "r", "d"))
    assert "extra" not in finding and finding["severity"] == "info"


def test_dicts_are_plain_json_data() -> None:
    for event in EVENTS:
        data = event_to_dict(event)
        assert json.loads(json.dumps(data)) == data


# --- garbage ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        None,
        5,
        "message",
        ["type", "message"],
        {},
        {"type": None},
        {"type": "nope"},
        {"type": "Message"},
        {"type": ["message"]},
        {"type": {"message": 1}},
        {"type": 5},
        {"type": "message", "message": "not a mapping"},
        {"type": "message", "message": None},
        {"type": "message", "message": {"kind": "bogus", "json": {}}},
        {"type": "message", "message": {"kind": ["request"], "json": {}}},
        {"type": "message", "direction": "sideways"},
        {"type": "message", "direction": ["client->server"]},
        {"type": "message", "stream": "carrier-pigeon"},
        {"type": "response-started", "stream": {"a": 1}},
        {"type": "exchange-opened", "headers": 5},
        {"type": "exchange-opened", "headers": [["only-name"]]},
        {"type": "exchange-opened", "headers": [["a", "b", "c"]]},
        {"type": "exchange-opened", "headers": [5]},
        {"type": "finding", "severity": "fatal"},
        {"type": "finding", "severity": None},
        {"type": "fault", "no_such_field": 1},
        {"type": "exchange-closed", "exchange_id": 1, "time": 0, "reason": "x", "extra": {}},
    ],
)
def test_garbage_raises_decode_error(data: Any) -> None:
    with pytest.raises(DecodeError):
        event_from_dict(data)


def test_decode_error_is_a_value_error() -> None:
    assert issubclass(DecodeError, ValueError)


def test_message_from_dict_rejects_non_mappings() -> None:
    with pytest.raises(DecodeError):
        message_from_dict(["kind", "request"])


JSON_LEAVES = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10)
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=10,
)
FIELD_NAMES = st.sampled_from(
    [
        "exchange_id",
        "time",
        "method",
        "target",
        "headers",
        "session_id",
        "status",
        "stream",
        "direction",
        "message",
        "sse_id",
        "sse_event",
        "reason",
        "bytes_to_client",
        "kind",
        "detail",
        "severity",
        "rule",
        "request_id",
        "progress_token",
        "extra",
        "bogus",
    ]
)
TYPE_VALUES = (
    st.sampled_from(
        ["exchange-opened", "response-started", "message", "exchange-closed", "fault", "finding"]
    )
    | JSON_VALUES
)
MESSAGE_DICTS = st.fixed_dictionaries(
    {},
    optional={
        "kind": st.sampled_from([k.value for k in MessageKind]) | JSON_VALUES,
        "json": JSON_VALUES,
        "raw": JSON_VALUES,
        "batch_index": JSON_VALUES,
        "problem": JSON_VALUES,
    },
)
FIELD_VALUES = (
    JSON_VALUES
    | MESSAGE_DICTS
    | st.sampled_from(
        [d.value for d in Direction] + [s.value for s in StreamKind] + [s.value for s in Severity]
    )
    | st.lists(st.lists(st.text(max_size=4), max_size=3), max_size=3)
)
EVENT_DICTS = st.builds(
    lambda type_name, fields, with_type: ({"type": type_name} if with_type else {}) | fields,
    TYPE_VALUES,
    st.dictionaries(FIELD_NAMES | st.text(max_size=5), FIELD_VALUES, max_size=8),
    st.booleans(),
)


def decodes_or_raises_decode_error(data: Any) -> None:
    try:
        event = event_from_dict(data)
    except DecodeError:
        return
    assert isinstance(
        event, ExchangeOpened | ResponseStarted | MessageSeen | ExchangeClosed | Fault | Finding
    )


@settings(max_examples=150, deadline=None)
@given(data=EVENT_DICTS)
def test_arbitrary_event_like_dicts_only_raise_decode_error(data: dict[str, Any]) -> None:
    decodes_or_raises_decode_error(data)


@settings(max_examples=100, deadline=None)
@given(data=JSON_VALUES)
def test_arbitrary_json_values_only_raise_decode_error(data: Any) -> None:
    decodes_or_raises_decode_error(data)


@settings(max_examples=100, deadline=None)
@given(
    event=st.sampled_from(EVENTS),
    name=FIELD_NAMES,
    value=FIELD_VALUES,
)
def test_corrupting_one_field_of_a_real_event_only_raises_decode_error(
    event: TapEvent, name: str, value: Any
) -> None:
    data = event_to_dict(event)
    data[name] = value
    decodes_or_raises_decode_error(data)


def test_every_event_type_has_its_fields_checked_on_read() -> None:
    """A new event type must say what its fields are, or no recording holding it can be read."""
    from mcp_tap.protocol.codec import EVENT_TYPES
    from mcp_tap.protocol.event_fields import FIELDS

    assert set(FIELDS) == set(EVENT_TYPES)
