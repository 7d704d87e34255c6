"""The type every stored field of a tap event must have, checked before an event is built.

Events read back from a file written elsewhere are data from a stranger: a `time` that is a
string, or `headers` that are a number, would otherwise become an event that breaks whatever
does arithmetic or iteration on it much later, far from the file. Checking here turns that
into one `DecodeError` naming the field, at the document that holds it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]


def _integer(value: Any) -> bool:
    return type(value) is int  # bool is an int to Python, never to a recording


def _number(value: Any) -> bool:
    return type(value) in (int, float)


def _text(value: Any) -> bool:
    return type(value) is str


def _mapping(value: Any) -> bool:
    return isinstance(value, dict)


def _headers(value: Any) -> bool:
    """A list of [name, value] pairs; scalars are read as text (a hand-written `339`)."""
    return isinstance(value, list) and all(
        isinstance(pair, list)
        and len(pair) == 2
        and all(type(item) in (str, int, float) for item in pair)
        for pair in value
    )


def _anything(value: Any) -> bool:
    return True


def _optional(check: Check) -> Check:
    def optional(value: Any) -> bool:
        return value is None or check(value)

    return optional


def _text_or_integer(value: Any) -> bool:
    return _text(value) or _integer(value)


# What a person is told a field should be.
EXPECTED: dict[Check, str] = {
    _integer: "an integer",
    _number: "a number",
    _text: "a string",
    _mapping: "a mapping",
    _headers: "a list of [name, value] pairs",
    _text_or_integer: "a string or an integer",
}

_OPTIONAL_INTEGER = _optional(_integer)
_OPTIONAL_TEXT = _optional(_text)
_OPTIONAL_ID = _optional(_text_or_integer)
EXPECTED.update(
    {
        _OPTIONAL_INTEGER: "an integer",
        _OPTIONAL_TEXT: "a string",
        _OPTIONAL_ID: "a string or an integer",
    }
)

# type name -> field -> (check, required). Enum fields (direction, stream, severity) are
# checked by their enum, `message` by `message_from_dict`; only their presence is listed.
FIELDS: dict[str, dict[str, tuple[Check, bool]]] = {
    "exchange-opened": {
        "exchange_id": (_integer, True),
        "time": (_number, True),
        "method": (_text, True),
        "target": (_text, True),
        "headers": (_headers, True),
        "session_id": (_OPTIONAL_TEXT, False),
        "origin": (_OPTIONAL_TEXT, False),
    },
    "response-started": {
        "exchange_id": (_integer, True),
        "time": (_number, True),
        "status": (_integer, True),
        "headers": (_headers, True),
        "stream": (_anything, False),
        "session_id": (_OPTIONAL_TEXT, False),
    },
    "message": {
        "exchange_id": (_integer, True),
        "time": (_number, True),
        "direction": (_anything, True),
        "stream": (_anything, True),
        "session_id": (_OPTIONAL_TEXT, False),
        "message": (_mapping, True),
        "sse_id": (_OPTIONAL_TEXT, False),
        "sse_event": (_OPTIONAL_TEXT, False),
    },
    "exchange-closed": {
        "exchange_id": (_integer, True),
        "time": (_number, True),
        "reason": (_text, True),
        "bytes_to_client": (_integer, False),
    },
    "fault": {
        "time": (_number, True),
        "exchange_id": (_OPTIONAL_INTEGER, False),
        "kind": (_text, True),
        "detail": (_text, True),
    },
    "fault-injected": {
        "time": (_number, True),
        "exchange_id": (_OPTIONAL_INTEGER, False),
        "rule": (_text, True),
        "action": (_text, True),
        "detail": (_text, True),
        "session_id": (_OPTIONAL_TEXT, False),
        "request_id": (_OPTIONAL_ID, False),
        "direction": (_anything, False),
    },
    "finding": {
        "time": (_number, True),
        "severity": (_anything, True),
        "rule": (_text, True),
        "detail": (_text, True),
        "exchange_id": (_OPTIONAL_INTEGER, False),
        "session_id": (_OPTIONAL_TEXT, False),
        "request_id": (_OPTIONAL_ID, False),
        "progress_token": (_anything, False),
        "extra": (_mapping, False),
    },
}

MESSAGE_FIELDS: dict[str, tuple[Check, bool]] = {
    "kind": (_anything, False),
    "json": (_anything, False),
    "raw": (_OPTIONAL_TEXT, False),
    "batch_index": (_OPTIONAL_INTEGER, False),
    "problem": (_OPTIONAL_TEXT, False),
}


def field_problem(
    data: dict[Any, Any], fields: dict[str, tuple[Check, bool]], prefix: str = ""
) -> str | None:
    """What is wrong with `data`'s fields, in one line naming the field; None when nothing."""
    for key in data:
        if key != "type" and key not in fields:
            return f"unknown field `{prefix}{key}`"
    for name, (check, required) in fields.items():
        if name not in data:
            if required:
                return f"field `{prefix}{name}` is missing"
            continue
        value = data[name]
        if not check(value):
            return f"field `{prefix}{name}` must be {EXPECTED[check]}, not {_shown(value)}"
    return None


def _shown(value: Any) -> str:
    """A value as a person would recognise it, cut short: a file may hold anything."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
