"""The mock's decisions, without sockets: which recorded request a new one is, and why not."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from mcp_tap.recording.reader import load_recording
from mcp_tap.serve.interactions import (
    HANDSHAKE_ERA,
    LEGACY_SSE_ERA,
    STATELESS_ERA,
    Interaction,
    RecordedServer,
    recorded_server,
)
from mcp_tap.serve.lifecycle import METHOD_NOT_FOUND, lifecycle_answer
from mcp_tap.serve.matching import Matcher, MatchRules, Miss, differences
from tests.procs import ROOT

RECORDINGS = ROOT / "recordings"


def server_of(*names: str) -> RecordedServer:
    return recorded_server([(n, load_recording(RECORDINGS / n).events) for n in names])


def interaction(index: int, request: dict[str, Any], result: Any = "ok") -> Interaction:
    made = Interaction(index, "test.yaml", index, request, float(index), "s", index)
    made.response = {"jsonrpc": "2.0", "id": request.get("id"), "result": {"v": result}}
    return made


def call(arguments: dict[str, Any], request_id: int = 1, **meta: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"name": "download_file", "arguments": arguments}
    if meta:
        params["_meta"] = meta
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


@pytest.mark.parametrize(
    ("name", "era", "delay_of_last"),
    [
        ("download_file-2026-07-28.yaml", STATELESS_ERA, 0.2),
        ("download_file-handshake.yaml", HANDSHAKE_ERA, 0.2),
        ("sse-2024-11-05.yaml", LEGACY_SSE_ERA, 0.2),
    ],
)
def test_each_era_gives_the_call_its_progress_and_response(
    name: str, era: str, delay_of_last: float
) -> None:
    server = server_of(name)
    assert server.eras == {era}
    (tool_call,) = [i for i in server.interactions if i.method == "tools/call"]
    assert [n.payload["params"]["progress"] for n in tool_call.notifications] == [1, 2, 3, 4, 5]
    assert all(n.is_progress for n in tool_call.notifications)
    offsets = [n.offset for n in tool_call.notifications]
    assert offsets == sorted(offsets) and offsets[-1] > delay_of_last
    assert tool_call.response is not None and tool_call.response_offset >= offsets[-1]
    assert "Downloaded report.pdf" in str(tool_call.response["result"])


def test_volatile_fields_are_ignored() -> None:
    recorded = interaction(1, call({"size_mb": 5}, 7, progressToken=7, traceparent="00-a-b-01"))
    matcher = Matcher([recorded])
    received = call({"size_mb": 5}, 99, progressToken="tok", **{"io.modelcontextprotocol/x": 1})
    assert matcher.match(received) is recorded
    assert matcher.match(call({"size_mb": 5}, 3)) is recorded  # no _meta at all


def test_with_meta_compares_meta_but_not_its_volatile_keys() -> None:
    recorded = interaction(1, call({}, 1, progressToken=1, tenant="a"))
    matcher = Matcher([recorded], MatchRules.from_options(["with-meta"]))
    assert matcher.match(call({}, 2, progressToken=9, traceparent="x", tenant="a")) is recorded
    miss = matcher.match(call({}, 3, tenant="b"))
    assert isinstance(miss, Miss)
    assert [d.path for d in miss.differences] == ["params._meta.tenant"]


def test_a_changed_argument_misses_and_names_the_field() -> None:
    matcher = Matcher([interaction(1, call({"filename": "a.pdf", "size_mb": 3}))])
    miss = matcher.match(call({"filename": "a.pdf", "size_mb": 5}))
    assert isinstance(miss, Miss)
    assert "params.arguments.size_mb: recorded 3, received 5" in miss.message
    assert "closest is tools/call download_file (call 1 of test.yaml" in miss.message
    assert miss.error_data()["differences"] == [
        {"path": "params.arguments.size_mb", "recorded": 3, "received": 5}
    ]
    assert matcher.misses == [miss]


def test_added_and_missing_fields_are_named() -> None:
    found = differences({"a": 1, "b": [1, 2]}, {"a": 1, "c": True, "b": [1, 3]})
    assert [d.describe() for d in found] == [
        "b.1: recorded 2, received 3",
        "c: recorded nothing, received true",
    ]
    assert differences({"a": 1}, {"a": 1.5})[0].describe() == "a: recorded 1, received 1.5"
    assert differences(1, True) != []  # a bool is not the integer 1


def test_the_closest_prefers_the_same_tool_then_fewest_differences() -> None:
    other = interaction(1, {"id": 1, "method": "tools/call", "params": {"name": "echo"}})
    far = interaction(2, call({"filename": "x", "size_mb": 9}))
    near = interaction(3, call({"filename": "a", "size_mb": 9}))
    miss = Matcher([other, far, near]).match(call({"filename": "a", "size_mb": 1}))
    assert isinstance(miss, Miss) and miss.closest is near
    assert [d.path for d in miss.differences] == ["params.arguments.size_mb"]


def test_an_unrecorded_method_lists_the_recorded_ones() -> None:
    miss = Matcher([interaction(1, call({}))]).match({"id": 1, "method": "prompts/list"})
    assert isinstance(miss, Miss) and miss.closest is None
    assert "no prompts/list request (recorded methods: tools/call)" in miss.message


def test_a_redacted_recorded_value_matches_anything() -> None:
    recorded = interaction(
        1, call({"user": "u", "password": "<redacted:params.arguments.password>"})
    )
    assert Matcher([recorded]).match(call({"user": "u", "password": "hunter2"})) is recorded


def test_ignore_paths_with_wildcards() -> None:
    recorded = interaction(1, call({"size_mb": 5, "step_delay": 0.05, "x": {"seed": 1}}))
    rules = MatchRules.from_options(["ignore:params.arguments.step_delay", "ignore:$.params.*.x"])
    assert Matcher([recorded], rules).match(call({"size_mb": 5, "step_delay": 0})) is recorded
    assert isinstance(Matcher([recorded]).match(call({"size_mb": 5, "step_delay": 0})), Miss)


def test_method_only_matches_by_tool_name() -> None:
    recorded = interaction(1, call({"size_mb": 5}))
    rules = MatchRules.from_options(["method-only"])
    assert Matcher([recorded], rules).match(call({"size_mb": 500})) is recorded


def test_identical_calls_are_answered_in_recorded_order_then_the_last_repeats() -> None:
    first, second = interaction(1, call({}), "a"), interaction(2, call({}), "b")
    matcher = Matcher([first, second])
    assert [matcher.match(call({})) for _ in range(4)] == [first, second, second, second]
    assert matcher.unused() == []


def test_repeat_cycle_and_once() -> None:
    first, second = interaction(1, call({})), interaction(2, call({}))
    cycle = Matcher([first, second], MatchRules.from_options(repeat="cycle"))
    assert [cycle.match(call({})) for _ in range(5)] == [first, second, first, second, first]
    once = Matcher([first, second], MatchRules.from_options(repeat="once"))
    assert once.match(call({})) is first and once.match(call({})) is second
    miss = once.match(call({}))
    assert isinstance(miss, Miss) and "all 2 recorded answers" in miss.message


def test_unused_interactions_leave_out_the_lifecycle() -> None:
    server = server_of("download_file-handshake.yaml")
    matcher = Matcher(server.interactions)
    assert [i.method for i in matcher.unused()] == ["tools/call", "tools/list"]


@pytest.mark.parametrize(
    "rule", ["nonsense", "ignore:", "ignore:$."], ids=["unknown", "empty", "root"]
)
def test_bad_match_rules_are_one_line_errors(rule: str) -> None:
    with pytest.raises(ValueError, match="--match"):
        MatchRules.from_options([rule])
    with pytest.raises(ValueError, match="--repeat"):
        MatchRules.from_options([], "sometimes")


def test_initialize_comes_from_the_recording_with_the_clients_version() -> None:
    server = server_of("download_file-handshake.yaml")
    request = {"id": 5, "method": "initialize", "params": {"protocolVersion": "2025-06-18"}}
    answer, recorded = lifecycle_answer(request, server)
    assert recorded is not None and recorded.method == "initialize"
    assert answer["result"]["protocolVersion"] == "2025-06-18"
    assert answer["result"]["serverInfo"]["name"] == "progress-demo"
    discover, _ = lifecycle_answer({"id": 1, "method": "server/discover"}, server)
    assert discover["error"]["code"] == METHOD_NOT_FOUND  # a handshake-era server


def test_a_stateless_recording_also_answers_a_handshake_client() -> None:
    server = server_of("download_file-2026-07-28.yaml")
    request = {"id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25"}}
    answer, recorded = lifecycle_answer(request, server)
    assert recorded is None
    result = answer["result"]
    assert result["protocolVersion"] == "2025-11-25"
    assert result["serverInfo"]["name"] == "progress-demo"
    assert result["capabilities"]["tools"] == {"listChanged": True}
    discover, recorded = lifecycle_answer({"id": 2, "method": "server/discover"}, server)
    assert recorded is not None and discover["result"]["supportedVersions"] == ["2026-07-28"]
    assert lifecycle_answer({"id": 3, "method": "ping"}, server)[0] == {"result": {}}


def test_matching_does_not_change_the_recorded_request() -> None:
    recorded = interaction(1, call({"size_mb": 5}, 1, progressToken=1))
    before = copy.deepcopy(recorded.request)
    Matcher([recorded], MatchRules.from_options(["ignore:params.arguments.size_mb"])).match(
        call({"size_mb": 6})
    )
    assert recorded.request == before


def test_the_mock_writes_a_recorded_lone_surrogate_as_json_escaped_it() -> None:
    # found by the fuzz suite: json.loads makes "\ud800" a lone surrogate, which UTF-8 refuses
    from mcp_tap.serve.wire import dumps, sse_event

    message = {"jsonrpc": "2.0", "id": 1, "result": {"text": "a\ud800b", "n": 2**70}}
    assert json.loads(dumps(message)) == message
    assert sse_event(message).startswith(b'event: message\ndata: {"jsonrpc"')


def tool(name: str, request_id: int = 1, **arguments: Any) -> dict[str, Any]:
    params = {"name": name, "arguments": arguments}
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


def test_a_call_after_a_state_changing_one_gets_what_was_recorded_after_it() -> None:
    recorded = [
        interaction(1, tool("get"), 0),
        interaction(2, tool("increment"), 1),
        interaction(3, tool("get"), 1),
        interaction(4, tool("increment"), 2),
        interaction(5, tool("get"), 2),
    ]
    matcher = Matcher(recorded)
    served = [matcher.match(tool(name)) for name in ("increment", "increment", "get")]
    assert [i.index for i in served if isinstance(i, Interaction)] == [2, 4, 5]
    again = Matcher(recorded)  # with nothing in between, identical calls go in recorded order
    assert [again.match(tool("get")).index for _ in range(3)] == [1, 3, 5]  # type: ignore[union-attr]


def test_match_sequence_keeps_one_sequence_per_field_value() -> None:
    recorded = [
        interaction(1, tool("increment", 1, counter="a"), 1),
        interaction(2, tool("get", 2, counter="a"), 1),
        interaction(3, tool("get", 3, counter="b"), 0),
        interaction(4, tool("increment", 4, counter="b"), 1),
        interaction(5, tool("get", 5, counter="b"), 1),
    ]
    rules = MatchRules.from_options(["sequence:params.arguments.counter"])
    matcher = Matcher(recorded, rules)
    assert matcher.match(tool("increment", counter="b")).index == 4  # type: ignore[union-attr]
    # counter a's sequence is untouched by b's increment: its first get is still next
    assert matcher.match(tool("increment", counter="a")).index == 1  # type: ignore[union-attr]
    assert matcher.match(tool("get", counter="b")).index == 5  # type: ignore[union-attr]


def test_volatile_meta_is_ignored_and_meta_key_compares_one() -> None:
    recorded = [interaction(1, call({"x": 1}, clientInfo={"name": "a"}, tenant="t1"))]
    received = call({"x": 1}, clientInfo={"name": "b"}, traceparent="00-1", tenant="t1")
    assert isinstance(
        Matcher(recorded, MatchRules.from_options(["with-meta"])).match(received), Interaction
    )
    strict_meta = MatchRules.from_options(["meta:clientInfo"])
    miss = Matcher(recorded, strict_meta).match(received)
    assert isinstance(miss, Miss)
    assert "params._meta.clientInfo.name" in miss.message
