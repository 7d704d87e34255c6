"""The recording's YAML emitter: whatever JSON it writes, a YAML safe loader reads back exactly."""

from __future__ import annotations

import math
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from mcp_tap.recording.yaml_emit import Memo, Reusable, emit_document

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(), children, max_size=6)
    ),
    max_leaves=40,
)


def load(text: str) -> Any:
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


# Drawing these nested documents is most of the time: the suite's budget is small, and the
# fuzz suite's reader-round-trip target writes any JSON through the same emitter, with
# bench/fuzz.py's budget a hundred times larger.
@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text(), json_values, max_size=8))
def test_any_json_document_round_trips(document: dict[str, Any]) -> None:
    assert load(emit_document(document)) == document


def test_strings_that_look_like_other_types_stay_strings() -> None:
    tricky = [
        "2.0",
        "1e5",
        "yes",
        "No",
        "null",
        "~",
        "true",
        "0x1f",
        "12:30",
        "-",
        "- a",
        "a: b",
        "# c",
        "[x]",
        "{y}",
        "*ref",
        "&anchor",
        "!tag",
        "%d",
        "@x",
        "`x",
        "",
        " lead",
        "trail ",
        "multi\nline",
        "tab\there",
        "\u2028",
        "\ufeff",
        "\x7f",
        "emoji \U0001f600",
        "2026-11-26",
        "<<",
        "=",
        "'q'",
        '"q"',
        ".inf",
    ]
    document = {"values": tricky, **{value: index for index, value in enumerate(tricky)}}
    assert load(emit_document(document)) == document


def test_a_lone_surrogate_is_stored_as_the_replacement_character() -> None:
    assert load(emit_document({"text": "a\ud800b"})) == {"text": "a\ufffdb"}


def test_floats_keep_their_type_and_value() -> None:
    values = [0.5, 1e20, -1e-7, 3.0, float("inf"), float("-inf"), 123456789.125]
    assert load(emit_document({"v": values}))["v"] == values
    assert math.isnan(load(emit_document({"v": float("nan")}))["v"])


def test_the_layout_is_readable_block_yaml() -> None:
    text = emit_document(
        {
            "type": "message",
            "headers": [["content-type", "application/json"]],
            "message": {
                "kind": "request",
                "json": {"jsonrpc": "2.0", "id": 1, "method": "tools/call"},
            },
        }
    )
    assert text == (
        "---\n"
        "type: message\n"
        "headers:\n"
        "  - [content-type, application/json]\n"
        "message:\n"
        "  kind: request\n"
        "  json:\n"
        '    jsonrpc: "2.0"\n'
        "    id: 1\n"
        "    method: tools/call\n"
        "...\n"
    )


@pytest.mark.parametrize(
    "document",
    [
        {"payload": {"k" * 2000: 1}},
        {"payload": {"k" * 2000: {"nested": [1, {"deeper": "x"}]}}},
        {"payload": [{"k" * 1500: "v", "short": 1}]},
        {"k" * 3000: []},
    ],
)
def test_keys_past_yamls_1024_character_limit_round_trip(document: dict[str, Any]) -> None:
    text = emit_document(document)
    assert load(text) == document and yaml.safe_load(text) == document


def _through(memo: Memo, document: dict[str, Any]) -> str:
    return emit_document({key: Reusable(value, memo) for key, value in document.items()})


@settings(max_examples=50, deadline=None)
@given(st.lists(st.dictionaries(st.text(max_size=3), json_values, max_size=4), max_size=8))
def test_reused_yaml_is_what_a_fresh_write_gives(documents: list[dict[str, Any]]) -> None:
    memo = Memo(entries=4, smallest=0)  # remember everything, forget often
    for document in documents * 2:  # every document comes back once
        assert _through(memo, document) == emit_document(document)


def test_values_that_json_would_confuse_are_never_reused_for_each_other() -> None:
    memo = Memo(smallest=0)
    padding = ["x" * 20] * 20
    for value in (1, 1.0, True, None, float("nan"), float("inf"), 0.0, -0.0, "1", [1], {"1": 1}):
        document = {"result": {"padding": padding, "value": value}}
        assert _through(memo, document) == emit_document(document)
        assert _through(memo, document) == emit_document(document)  # now from memory
