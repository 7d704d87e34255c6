"""A judge's memo gives for a value what computing it gives, whatever the value's JSON."""

from __future__ import annotations

import math
from typing import Any

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
