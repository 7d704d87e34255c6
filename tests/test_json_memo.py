"""A judge's memo gives for a value what computing it gives, whatever the value's JSON."""

from __future__ import annotations

import math
from typing import Any

import orjson

from mcp_tap.analysis import json_memo
from mcp_tap.analysis.json_memo import JsonMemo


def test_a_value_seen_again_is_not_computed_again() -> None:
    calls: list[Any] = []
    memo = JsonMemo(lambda value: calls.append(value) or len(calls))
    tools = [{"name": "a", "inputSchema": {"type": "object"}}]
    assert memo(tools) == memo([{"name": "a", "inputSchema": {"type": "object"}}]) == 1
    assert len(calls) == 1


def test_values_equal_in_python_but_not_in_json_are_computed_apart() -> None:
    memo = JsonMemo(repr)
    assert [memo(1), memo(True), memo(1.0)] == ["1", "True", "1.0"]
    assert memo(math.nan) == "nan" and memo(None) == "None"  # orjson writes both as null
    assert memo(2**70) == str(2**70)  # past 64 bits: computed, not kept


def test_only_the_latest_values_are_kept() -> None:
    calls: list[Any] = []
    memo = JsonMemo(lambda value: calls.append(value), size=2)
    for value in (1, 2, 3, 1):
        memo(value)
    assert calls == [1, 2, 3, 1]


class CountingOrjson:
    """orjson, counting the values it writes."""

    def __init__(self) -> None:
        self.written = 0

    def dumps(self, value: Any) -> bytes:
        self.written += 1
        return orjson.dumps(value)


def test_memos_keyed_by_the_same_value_write_its_json_once(monkeypatch: Any) -> None:
    """The 2026-07-28 and definition checkers both key a tools/list's `tools`: the JSON the
    first writes is the second's. An equal value of its own is written again, and still
    found in the memo by its JSON."""
    counting = CountingOrjson()
    monkeypatch.setattr(json_memo, "orjson", counting)
    names = JsonMemo(lambda tools: [tool["name"] for tool in tools])
    sizes = JsonMemo(len)
    tools = [{"name": "a"}, {"name": "b"}]
    assert names(tools) == ["a", "b"] and sizes(tools) == 2
    assert counting.written == 1
    again = [{"name": "a"}, {"name": "b"}]  # equal, not the same object
    assert names(again) == ["a", "b"] and counting.written == 2
    nan = [math.nan]
    assert sizes(nan) == 1 and sizes(nan) == 1  # the same NaN object: its text is shared
    assert JsonMemo(repr)([None]) == "[None]"  # the same text, another value: not the NaN's
