"""Classifying JSON-RPC text: kinds, ids, batches, progress tokens, protocol versions."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcp_tap.protocol.events import MessageKind, RpcMessage
from mcp_tap.protocol.jsonrpc import (
    META_PROTOCOL_VERSION,
    classify_text,
    classify_value,
    error_body,
    progress_params,
    request_id_for_error,
)


def one(text: str | bytes) -> RpcMessage:
    messages = classify_text(text)
    assert len(messages) == 1
    return messages[0]


def dumps(value: Any) -> str:
    return json.dumps(value)


# --- kinds --------------------------------------------------------------------------------


def test_request() -> None:
    payload = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "install"}}
    message = one(dumps(payload))
    assert message.kind is MessageKind.REQUEST
    assert message.method == "tools/call"
    assert message.id == 1
    assert message.payload == payload
    assert message.raw is None
    assert message.problem is None
    assert message.batch_index is None
    assert message.has_progress_token is False
    assert message.progress_token is None
    assert message.protocol_version is None


@pytest.mark.parametrize("request_id", [0, 7, -3, "abc", "", "1"])
def test_request_ids_are_kept_exactly(request_id: str | int) -> None:
    message = one(dumps({"jsonrpc": "2.0", "id": request_id, "method": "ping"}))
    assert message.kind is MessageKind.REQUEST
    assert message.id == request_id
    assert type(message.id) is type(request_id)


def test_request_with_null_id_is_still_a_request() -> None:
    message = one('{"jsonrpc":"2.0","id":null,"method":"ping"}')
    assert message.kind is MessageKind.REQUEST
    assert message.id is None


def test_notification() -> None:
    message = one('{"jsonrpc":"2.0","method":"notifications/initialized"}')
    assert message.kind is MessageKind.NOTIFICATION
    assert message.method == "notifications/initialized"
    assert message.id is None


def test_response() -> None:
    message = one('{"jsonrpc":"2.0","id":"r-1","result":{"tools":[]}}')
    assert message.kind is MessageKind.RESPONSE
    assert message.id == "r-1"
    assert message.method is None
    assert message.payload["result"] == {"tools": []}


def test_response_with_null_result_is_a_response() -> None:
    message = one('{"jsonrpc":"2.0","id":3,"result":null}')
    assert message.kind is MessageKind.RESPONSE
    assert message.id == 3


def test_error() -> None:
    message = one('{"jsonrpc":"2.0","id":5,"error":{"code":-32601,"message":"no such method"}}')
    assert message.kind is MessageKind.ERROR
    assert message.id == 5
    assert message.payload["error"]["code"] == -32601


@pytest.mark.parametrize(
    "payload",
    [
        {"jsonrpc": "2.0", "result": {}},  # a result with no id
        {"jsonrpc": "2.0", "error": {"code": 1, "message": "x"}},  # an error with no id
        {"jsonrpc": "2.0"},
        {"jsonrpc": "2.0", "id": 1},
        {"jsonrpc": "2.0", "id": 1, "method": 5},  # method not a string
        {},
    ],
)
def test_objects_that_are_not_json_rpc_are_invalid(payload: dict[str, Any]) -> None:
    message = one(dumps(payload))
    assert message.kind is MessageKind.INVALID
    assert message.payload == payload
    assert message.raw is None
    assert message.problem


# --- ids that are not ids -----------------------------------------------------------------


@pytest.mark.parametrize("bad_id", [True, False, 1.5, [1], {"a": 1}])
def test_bools_floats_and_structures_are_not_ids(bad_id: Any) -> None:
    request = one(dumps({"jsonrpc": "2.0", "id": bad_id, "method": "ping"}))
    assert request.kind is MessageKind.REQUEST  # the key is there, so not a notification
    assert request.id is None
    response = one(dumps({"jsonrpc": "2.0", "id": bad_id, "result": {}}))
    assert response.kind is MessageKind.RESPONSE
    assert response.id is None
    assert response.payload["id"] == bad_id  # still visible in the payload


# --- batches ------------------------------------------------------------------------------


def test_batch_gives_one_message_per_element_with_indices() -> None:
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 0}},
        {"jsonrpc": "2.0", "id": 0, "result": {}},
        {"jsonrpc": "2.0", "id": 2, "error": {"code": -1, "message": "no"}},
        42,
    ]
    messages = classify_text(dumps(batch))
    assert [m.kind for m in messages] == [
        MessageKind.REQUEST,
        MessageKind.NOTIFICATION,
        MessageKind.RESPONSE,
        MessageKind.ERROR,
        MessageKind.INVALID,
    ]
    assert [m.batch_index for m in messages] == [0, 1, 2, 3, 4]
    assert [m.payload for m in messages] == batch
    assert messages[4].problem == "not a JSON object"


def test_empty_batch_is_invalid() -> None:
    message = one("[]")
    assert message.kind is MessageKind.INVALID
    assert message.payload == []
    assert message.problem == "empty batch"
    assert message.batch_index is None


# --- not JSON, not objects ------------------------------------------------------------------


@pytest.mark.parametrize("text", ['{"jsonrpc":', "", "   ", "nope", "{'a': 1}", "[1,]", "\ufeff{}"])
def test_invalid_json_keeps_raw_text_and_says_why(text: str) -> None:
    message = one(text)
    assert message.kind is MessageKind.INVALID
    assert message.raw == text
    assert message.payload is None
    assert message.problem is not None and message.problem.startswith("not JSON")


def test_invalid_bytes_keep_raw_text_decoded_with_replacement() -> None:
    message = one(b'{"a": "\xff\xfe"')
    assert message.kind is MessageKind.INVALID
    assert message.raw == '{"a": "\ufffd\ufffd"'
    assert message.problem is not None and message.problem.startswith("not JSON")


def test_bytes_are_parsed_like_text() -> None:
    text = '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"note":"ünï€😀"}}'
    assert classify_text(text.encode()) == classify_text(text)


@pytest.mark.parametrize("text", ["[" * 100_000, '{"a":' * 100_000, b"[" * 100_000])
def test_absurdly_deep_nesting_is_invalid_not_a_crash(text: str | bytes) -> None:
    message = one(text)
    assert message.kind is MessageKind.INVALID
    assert message.raw == (text.decode() if isinstance(text, bytes) else text)
    assert message.problem is not None and message.problem.startswith("not JSON")


@pytest.mark.parametrize("value", [5, 1.5, "text", None, True, False])
def test_json_that_is_not_an_object_is_invalid_with_its_value(value: Any) -> None:
    message = one(dumps(value))
    assert message.kind is MessageKind.INVALID
    assert message.payload == value
    assert message.raw is None
    assert message.problem == "not a JSON object"


# --- progress tokens ------------------------------------------------------------------------


def call_with_meta(meta: Any, request_id: Any = 1) -> str:
    return dumps(
        {
            "jsonrpc": "2.0",
            "id": request_id,
            "method": "tools/call",
            "params": {"name": "install", "_meta": meta},
        }
    )


@pytest.mark.parametrize("token", ["tok-1", "", 0, 7, -1, 2**60])
def test_progress_token_string_and_integer(token: str | int) -> None:
    message = one(call_with_meta({"progressToken": token}))
    assert message.has_progress_token is True
    assert message.progress_token == token
    assert type(message.progress_token) is type(token)


def test_string_and_integer_tokens_stay_distinct() -> None:
    as_string = one(call_with_meta({"progressToken": "1"}))
    as_int = one(call_with_meta({"progressToken": 1}))
    assert as_string.progress_token == "1"
    assert as_int.progress_token == 1
    assert as_string.progress_token != as_int.progress_token
    assert {as_string.progress_token, as_int.progress_token} == {"1", 1}


def test_null_token_is_present() -> None:
    message = one(call_with_meta({"progressToken": None}))
    assert message.has_progress_token is True
    assert message.progress_token is None


@pytest.mark.parametrize("token", [1.5, 1.0, True, False, [1], {"a": "b"}])
def test_invalid_token_types_are_preserved_as_sent(token: Any) -> None:
    message = one(call_with_meta({"progressToken": token}))
    assert message.has_progress_token is True
    assert message.progress_token == token
    assert type(message.progress_token) is type(token)


def test_token_on_a_notification() -> None:
    text = dumps({"jsonrpc": "2.0", "method": "x/y", "params": {"_meta": {"progressToken": 3}}})
    message = one(text)
    assert message.kind is MessageKind.NOTIFICATION
    assert message.has_progress_token is True
    assert message.progress_token == 3


@pytest.mark.parametrize(
    "params",
    [
        None,
        [],
        {"name": "x"},
        {"_meta": None},
        {"_meta": {}},
        {"_meta": ["progressToken"]},
        {"_meta": "progressToken"},
        {"progressToken": "not-in-meta"},
    ],
)
def test_no_token_without_a_meta_progress_token_key(params: Any) -> None:
    payload: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": "tools/call"}
    if params is not None:
        payload["params"] = params
    message = one(dumps(payload))
    assert message.kind is MessageKind.REQUEST
    assert message.has_progress_token is False
    assert message.progress_token is None


def test_progress_params() -> None:
    params = {"progressToken": "t", "progress": 2, "total": 5}
    note = one(dumps({"jsonrpc": "2.0", "method": "notifications/progress", "params": params}))
    assert progress_params(note) == params
    # the token of a progress notification is in params, not _meta
    assert note.has_progress_token is False
    other = one(dumps({"jsonrpc": "2.0", "method": "notifications/message", "params": params}))
    assert progress_params(other) is None
    as_request = one(
        dumps({"jsonrpc": "2.0", "id": 1, "method": "notifications/progress", "params": params})
    )
    assert progress_params(as_request) is None
    no_params = one(dumps({"jsonrpc": "2.0", "method": "notifications/progress", "params": [1]}))
    assert progress_params(no_params) is None


# --- protocol versions ----------------------------------------------------------------------


def test_protocol_version_from_meta() -> None:
    message = one(call_with_meta({META_PROTOCOL_VERSION: "2025-11-25"}))
    assert META_PROTOCOL_VERSION == "io.modelcontextprotocol/protocolVersion"
    assert message.protocol_version == "2025-11-25"


def test_protocol_version_from_meta_on_a_notification() -> None:
    text = dumps(
        {
            "jsonrpc": "2.0",
            "method": "notifications/initialized",
            "params": {"_meta": {META_PROTOCOL_VERSION: "2025-11-25"}},
        }
    )
    assert one(text).protocol_version == "2025-11-25"


def test_protocol_version_from_initialize_params() -> None:
    text = dumps(
        {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "c", "version": "1"},
            },
        }
    )
    assert one(text).protocol_version == "2025-06-18"


def test_meta_version_wins_over_initialize_params() -> None:
    text = dumps(
        {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "_meta": {META_PROTOCOL_VERSION: "2025-11-25"},
            },
        }
    )
    assert one(text).protocol_version == "2025-11-25"


def test_protocol_version_from_initialize_result() -> None:
    text = dumps(
        {
            "jsonrpc": "2.0",
            "id": 0,
            "result": {
                "protocolVersion": "2024-11-05",
                "capabilities": {},
                "serverInfo": {"name": "s", "version": "1"},
            },
        }
    )
    message = one(text)
    assert message.kind is MessageKind.RESPONSE
    assert message.protocol_version == "2024-11-05"


@pytest.mark.parametrize(
    "payload",
    [
        # protocolVersion in params of anything but initialize does not count
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"protocolVersion": "x"}},
        # non-string versions do not count
        {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": 2025}},
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "ping",
            "params": {"_meta": {META_PROTOCOL_VERSION: 20251125}},
        },
        {"jsonrpc": "2.0", "id": 0, "result": {"protocolVersion": None}},
        {"jsonrpc": "2.0", "id": 0, "result": "2025-11-25"},
        {
            "jsonrpc": "2.0",
            "id": 0,
            "error": {"code": 1, "message": "m", "data": {"protocolVersion": "2025-11-25"}},
        },
    ],
)
def test_no_protocol_version(payload: dict[str, Any]) -> None:
    assert one(dumps(payload)).protocol_version is None


# --- error bodies -----------------------------------------------------------------------------


@pytest.mark.parametrize("request_id", [1, 0, "abc", "1", None])
def test_error_body_is_a_json_rpc_error_for_that_id(request_id: str | int | None) -> None:
    body = error_body(request_id, -32603, "upstream unreachable: connection refused")
    assert isinstance(body, bytes)
    assert json.loads(body) == {
        "jsonrpc": "2.0",
        "id": request_id,
        "error": {"code": -32603, "message": "upstream unreachable: connection refused"},
    }
    message = one(body)
    assert message.kind is MessageKind.ERROR
    assert message.id == request_id
    assert type(message.id) is type(request_id)


def test_error_body_escapes_its_message() -> None:
    body = error_body(1, -1, 'a "quoted"\nmessage ünï')
    assert json.loads(body)["error"]["message"] == 'a "quoted"\nmessage ünï'


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"jsonrpc":"2.0","id":9,"method":"tools/call"}', 9),
        (b'{"jsonrpc":"2.0","id":"9","method":"tools/call"}', "9"),
        (b'{"jsonrpc":"2.0","id":true,"method":"tools/call"}', None),
        (b'{"jsonrpc":"2.0","method":"notifications/initialized"}', None),
        (b'{"jsonrpc":"2.0","id":9,"result":{}}', None),
        (b'[{"jsonrpc":"2.0","id":9,"method":"a"},{"jsonrpc":"2.0","id":8,"method":"b"}]', None),
        (b"", None),
        (b"not json", None),
        (b"\xff\xfe\xfd", None),
    ],
)
def test_request_id_for_error(body: bytes, expected: str | int | None) -> None:
    result = request_id_for_error(body)
    assert result == expected
    assert type(result) is type(expected)


# --- classify_value directly ------------------------------------------------------------------


def test_classify_value_sets_the_batch_index() -> None:
    message = classify_value({"jsonrpc": "2.0", "id": 1, "method": "ping"}, batch_index=3)
    assert message.kind is MessageKind.REQUEST
    assert message.batch_index == 3
    assert classify_value("x", batch_index=2).batch_index == 2


# --- properties -------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "jsonrpc",
                    "id",
                    "method",
                    "params",
                    "result",
                    "error",
                    "_meta",
                    "progressToken",
                    "protocolVersion",
                    META_PROTOCOL_VERSION,
                    "x",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=200))
def test_classify_text_never_raises_on_text(text: str) -> None:
    messages = classify_text(text)
    assert messages and all(isinstance(m, RpcMessage) for m in messages)


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=200))
def test_classify_text_never_raises_on_bytes(data: bytes) -> None:
    messages = classify_text(data)
    assert messages and all(isinstance(m, RpcMessage) for m in messages)
    for message in messages:
        if message.raw is not None:
            assert message.kind is MessageKind.INVALID


@settings(max_examples=150, deadline=None)
@given(value=JSON_VALUES)
def test_classify_text_on_json_like_values(value: Any) -> None:
    messages = classify_text(json.dumps(value))
    assert messages and all(isinstance(m, RpcMessage) for m in messages)
    if isinstance(value, list) and value:
        assert [m.batch_index for m in messages] == list(range(len(value)))
        assert [m.payload for m in messages] == value
    for message in messages:
        assert message.raw is None
        assert (message.kind is MessageKind.INVALID) == (message.problem is not None)
        assert message.id is None or (
            isinstance(message.id, str | int) and not isinstance(message.id, bool)
        )


@pytest.mark.parametrize(
    "text",
    [
        '{"jsonrpc":"2.0","id":123456789012345678901234567890,"result":{}}',  # past 64 bits
        '{"jsonrpc":"2.0","id":1,"result":{"value":NaN}}',  # not JSON, but Python writes it
        '{"jsonrpc":"2.0","id":1,"result":{"text":"\\ud800"}}',  # a lone surrogate escape
    ],
)
def test_json_that_a_strict_parser_refuses_is_still_read(text: str) -> None:
    (message,) = classify_text(text)
    assert message.kind is MessageKind.RESPONSE
    assert json.dumps(message.payload) == json.dumps(json.loads(text))  # NaN != NaN
    assert not message.json_exact  # orjson would not write it back as it was


def test_what_orjson_reads_it_writes_back_exactly() -> None:
    """`json_exact`: the recorder sends such a payload's parts as orjson's text."""
    messages = classify_text(
        b'[{"jsonrpc":"2.0","id":1,"result":{"v":[1.0,1,true,null]}},'
        b'{"jsonrpc":"2.0","method":"m","params":{"w":-0.0}}]'
    )
    assert [m.json_exact for m in messages] == [True, True]
    assert orjson.loads(orjson.dumps(messages[0].payload)) == messages[0].payload
    assert not classify_value({"jsonrpc": "2.0", "id": 1, "result": {}}).json_exact
