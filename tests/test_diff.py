"""The structural diff and how replay prints it: paths, `-`/`+` values, --ignore hints.

The printed form is checked against stored expected output (tests/goldens/), at 80 and 200
columns; `MCP_TAP_UPDATE_GOLDENS=1 uv run pytest tests/test_diff.py` rewrites them after an
intended change, to be read in review like any other diff.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from mcp_tap.analysis.calls import Call
from mcp_tap.analysis.diff import MISSING, Change, json_diff, parse_path
from mcp_tap.protocol.events import MessageKind, RpcMessage
from mcp_tap.replay.compare import compare_calls, unmatched_ignores
from mcp_tap.replay.report import print_verdicts, window

GOLDENS = Path(__file__).parent / "goldens"
TOOLS = {
    "tools": [
        {
            "name": "download_file",
            "description": "Download a file, reporting progress.",
            "inputSchema": {
                "type": "object",
                "properties": {"filename": {"type": "string"}, "size_mb": {"type": "integer"}},
            },
        },
        {"name": "echo", "description": "Echo text back.", "inputSchema": {"type": "object"}},
    ]
}
TEXT = "Downloaded report.pdf (5 MB) to /tmp/downloads after verifying its checksum " * 3


def call(result: Any = None, error: Any = None, progress: list[Any] | None = None) -> Call:
    payload: dict[str, Any] = {"jsonrpc": "2.0", "id": 2}
    payload.update({"error": error} if error is not None else {"result": result})
    request = RpcMessage(
        MessageKind.REQUEST,
        payload={
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "download_file"},
        },
        method="tools/call",
        id=2,
    )
    made = Call(3, "s1", request, 1.0, number=2)
    made.response = RpcMessage(MessageKind.RESPONSE, payload=payload, id=2)
    made.answered_at = 2.0
    for n, (value, total, message) in enumerate(progress or []):
        made.progress.append(
            {"progressToken": 2, "progress": value, "total": total, "message": message}
        )
        made.progress_times.append(1.0 + 0.05 * (n + 1))
    return made


def steps(values: list[int], total: int = 5) -> list[Any]:
    return [(v, total, f"{v}/{total} MB") for v in values]


def edited_tools(edit: Any) -> dict[str, Any]:
    tools = copy.deepcopy(TOOLS)
    edit(tools["tools"])
    return tools


CASES: dict[str, tuple[Call, Call]] = {
    "edited-text": (
        call({"content": [{"type": "text", "text": TEXT}]}),
        call({"content": [{"type": "text", "text": TEXT.replace("checksum", "signature", 1)}]}),
    ),
    "new-tool": (
        call(TOOLS),
        call(edited_tools(lambda t: t.append({"name": "ping", "inputSchema": {"type": "object"}}))),
    ),
    "removed-tool": (call(TOOLS), call(edited_tools(lambda t: t.pop()))),
    "schema-field": (
        call(TOOLS),
        call(
            edited_tools(
                lambda t: t[0]["inputSchema"]["properties"]["size_mb"].update(type="number")
            )
        ),
    ),
    "error-instead-of-result": (
        call({"content": [{"type": "text", "text": "Downloaded report.pdf (5 MB)"}]}),
        call(error={"code": -32602, "message": "Unknown tool: download_file"}),
    ),
    "progress-missing-last-two": (
        call({}, progress=steps([1, 2, 3, 4, 5])),
        call({}, progress=steps([1, 2, 3])),
    ),
    "progress-going-down": (
        call({}, progress=steps([1, 2, 3, 4, 5])),
        call({}, progress=steps([1, 2, 4, 3, 5])),
    ),
}


def rendered(case: str, width: int) -> str:
    recorded, received = CASES[case]
    verdicts = compare_calls([recorded], lambda _: received)
    console = Console(record=True, width=width, color_system=None, file=open(os.devnull, "w"))
    print_verdicts(console, verdicts)
    return console.export_text()


@pytest.mark.parametrize("width", [80, 200])
@pytest.mark.parametrize("case", list(CASES))
def test_each_divergence_prints_its_path_and_both_values(case: str, width: int) -> None:
    text = rendered(case, width)
    golden = GOLDENS / f"diff-{case}-{width}.txt"
    if os.environ.get("MCP_TAP_UPDATE_GOLDENS"):
        golden.write_text(text)
    assert text == golden.read_text()
    values = [line for line in text.splitlines() if line.startswith(("    - ", "    + "))]
    assert all(len(line) <= width for line in values)  # a value never runs past the width


def test_a_new_tool_is_one_added_entry_not_a_rewrite() -> None:
    recorded, received = CASES["new-tool"]
    changes = json_diff(recorded.response.payload, received.response.payload)  # type: ignore[union-attr]
    assert changes == [Change("result.tools[name=ping]", MISSING, TOOLS_PING)]


TOOLS_PING = {"name": "ping", "inputSchema": {"type": "object"}}


def test_types_count_and_ignores_silence_a_path() -> None:
    assert [c.path for c in json_diff({"a": 1}, {"a": 1.0})] == ["a"]
    assert [c.path for c in json_diff({"a": 1}, {"a": True})] == ["a"]
    assert json_diff({"a": [1, {"b": 2}]}, {"a": [1, {"b": 3}]}, ignore=["a[1].b"]) == []
    assert json_diff({"a": [1, {"b": 2}]}, {"a": [1, {"b": 3}]}, ignore=["a.*.b"]) == []
    assert parse_path("result.content.0.text") == parse_path("$.result.content[0].text")
    tools = json_diff(TOOLS, edited_tools(lambda t: t[0].update(description="x")))
    assert [c.path for c in tools] == ["tools[name=download_file].description"]
    assert (
        json_diff(
            TOOLS,
            edited_tools(lambda t: t[0].update(description="x")),
            ignore=["tools[name=download_file].description"],
        )
        == []
    )


def test_a_long_value_is_windowed_around_its_first_difference() -> None:
    a, b = window('"' + TEXT + '"', '"' + TEXT.replace("checksum", "signature", 1) + '"', 60)
    assert len(a) <= 60 and len(b) <= 60
    assert "checksum" in a and "signature" in b and a.startswith("…")


def test_an_ignore_path_that_names_no_field_is_found_with_the_closest_real_one() -> None:
    recorded = call({"content": [{"type": "text", "text": "a"}], **TOOLS})
    received = call({"content": [{"type": "text", "text": "b"}], "added": 1, **TOOLS})
    verdicts = compare_calls([recorded], lambda _: received)
    ignore = [
        "result.content[0].text",  # a field of both sides
        "result.content.0",  # the dotted form of an index
        "result.added",  # only in the server's answer
        "result.tools[name=echo].description",  # a list item by its key
        "result.*.0.type",
        "result.content.text",  # the index is missing: nothing is there
        "result.nothing.like.it",
    ]
    assert unmatched_ignores(ignore, verdicts) == [
        ("result.content.text", "result.content[0].text"),
        ("result.nothing.like.it", None),
    ]
