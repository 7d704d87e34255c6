"""The JSON/JSONC span reader of `mcp_tap.hosts.jsonc`: values, spans, comments, errors."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcp_tap.hosts.jsonc import JsonSyntaxError, Node, parse, skip_blank


def spans_hold_their_values(text: str, node: Node) -> None:
    assert json.loads(text[node.start : node.end]) == node.value()
    for member in node.members:
        assert json.loads(text[member.key_start : member.key_end]) == member.key
        spans_hold_their_values(text, member.value)
    for item in node.items:
        spans_hold_their_values(text, item)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values, st.sampled_from([None, 2, 4, "\t"]), st.booleans())
def test_plain_json_reads_as_json_loads_does(value: Any, indent: Any, ascii_only: bool) -> None:
    text = json.dumps(value, indent=indent, ensure_ascii=ascii_only)
    root = parse(text)
    assert root.value() == json.loads(text)
    spans_hold_their_values(text, root)


def test_comments_and_trailing_commas_are_read_as_vs_code_does() -> None:
    text = """\ufeff{
  // a line comment with "quotes" and { braces
  "servers": {
    "fs": { "command": "node", /* inline */ "args": ["a", "b",], },
  },
  "inputs": [],  // trailing
}
"""
    root = parse(text)
    assert root.value() == {
        "servers": {"fs": {"command": "node", "args": ["a", "b"]}},
        "inputs": [],
    }
    fs = root.get("servers").get("fs")  # type: ignore[union-attr]
    assert fs is not None
    command = fs.get("command")
    assert command is not None and text[command.start : command.end] == '"node"'
    args = fs.get("args")
    assert args is not None and text[args.start : args.end] == '["a", "b",]'


def test_strings_keep_their_escapes_in_the_span_and_decode_in_the_value() -> None:
    text = r'{"path": "C:\\Users\\me\\srv.exe", "u": "\u00e9\/x", "k": "// not a comment"}'
    root = parse(text)
    path = root.get("path")
    assert path is not None and path.scalar == "C:\\Users\\me\\srv.exe"
    assert text[path.start : path.end] == r'"C:\\Users\\me\\srv.exe"'
    assert root.value()["u"] == "é/x"
    assert root.value()["k"] == "// not a comment"


def test_a_repeated_key_is_the_last_one_as_json_parse_has_it() -> None:
    root = parse('{"a": 1, "a": 2}')
    assert root.get("a") is not None and root.get("a").scalar == 2  # type: ignore[union-attr]
    assert root.value() == json.loads('{"a": 1, "a": 2}')


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("", "the file is empty"),
        ("{", "an object that never ends at line 1 column 1"),
        ('{"a": 1,\n "b" 2}', "expected ':' after a key at line 2 column 6"),
        ('{"a": [1, 2}', "expected ',' or ']' at line 1 column 12"),
        ('{"a": "x\n"}', "a line break inside a string at line 1 column 9"),
        ("{a: 1}", "expected a key in quotes at line 1 column 2"),
        ('{"a": 01}', "a bad number at line 1 column 7"),
        ("{} {}", "text after the end of the document at line 1 column 4"),
        ("/* never closed", "a /* comment that never ends at line 1 column 1"),
        ('{"a": tru}', "unexpected 't' at line 1 column 7"),
        ("[" * 300 + "]" * 300, "nesting deeper than 256"),
    ],
)
def test_bad_documents_say_what_and_where(text: str, where: str) -> None:
    with pytest.raises(JsonSyntaxError, match="^" + re.escape(where)):
        parse(text)


def test_skip_blank_passes_whitespace_and_comments() -> None:
    text = 'x  // c\n /* d */ "y"'
    assert text[skip_blank(text, 1)] == '"'
