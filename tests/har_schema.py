"""The HAR 1.2 format as a JSON Schema, written from the spec (W3C Web Performance WG draft,
"HTTP Archive (HAR) format", version 1.2): required fields, their types, and no other
constraint than the spec's. Custom fields (names starting with `_`) are allowed everywhere,
as the spec says; other unknown fields are not, so a typo in a field name fails.
"""

from __future__ import annotations

from typing import Any


def _obj(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "properties": {**properties, "comment": {"type": "string"}},
        "patternProperties": {"^_": {}},
        "additionalProperties": False,
    }


STRING = {"type": "string"}
INTEGER = {"type": "integer"}
NAME_VALUE = {
    "type": "array",
    "items": _obj(["name", "value"], {"name": STRING, "value": STRING}),
}
COOKIES = {
    "type": "array",
    "items": _obj(
        ["name", "value"],
        {
            "name": STRING,
            "value": STRING,
            "path": STRING,
            "domain": STRING,
            "expires": STRING,
            "httpOnly": {"type": "boolean"},
            "secure": {"type": "boolean"},
        },
    ),
}
# "-1 if the timing does not apply"; send, wait and receive are required and never -1
OPTIONAL_TIMING = {"type": "number", "minimum": -1}
TIMING = {"type": "number", "minimum": 0}
DATETIME = {
    "type": "string",
    "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$",
}

REQUEST = _obj(
    [
        "method",
        "url",
        "httpVersion",
        "cookies",
        "headers",
        "queryString",
        "headersSize",
        "bodySize",
    ],
    {
        "method": STRING,
        "url": {"type": "string", "pattern": "^https?://"},
        "httpVersion": STRING,
        "cookies": COOKIES,
        "headers": NAME_VALUE,
        "queryString": NAME_VALUE,
        "postData": _obj(
            ["mimeType"],
            {
                "mimeType": STRING,
                "text": STRING,
                "params": {
                    "type": "array",
                    "items": _obj(
                        ["name"],
                        {
                            "name": STRING,
                            "value": STRING,
                            "fileName": STRING,
                            "contentType": STRING,
                        },
                    ),
                },
            },
        ),
        "headersSize": INTEGER,
        "bodySize": INTEGER,
    },
)
RESPONSE = _obj(
    [
        "status", "statusText", "httpVersion", "cookies", "headers", "content",
        "redirectURL", "headersSize", "bodySize",
    ],
    {
        "status": INTEGER,
        "statusText": STRING,
        "httpVersion": STRING,
        "cookies": COOKIES,
        "headers": NAME_VALUE,
        "content": _obj(
            ["size", "mimeType"],
            {
                "size": INTEGER,
                "compression": INTEGER,
                "mimeType": STRING,
                "text": STRING,
                "encoding": STRING,
            },
        ),
        "redirectURL": STRING,
        "headersSize": INTEGER,
        "bodySize": INTEGER,
    },
)  # fmt: skip
CACHE_ENTRY = _obj(
    ["lastAccess", "eTag", "hitCount"],
    {"expires": STRING, "lastAccess": STRING, "eTag": STRING, "hitCount": INTEGER},
)
ENTRY = _obj(
    ["startedDateTime", "time", "request", "response", "cache", "timings"],
    {
        "pageref": STRING,
        "startedDateTime": DATETIME,
        "time": {"type": "number", "minimum": 0},
        "request": REQUEST,
        "response": RESPONSE,
        "cache": _obj(
            [], {"beforeRequest": {"oneOf": [{"type": "null"}, CACHE_ENTRY]}, "afterRequest": {}}
        ),
        "timings": _obj(
            ["send", "wait", "receive"],
            {
                "blocked": OPTIONAL_TIMING,
                "dns": OPTIONAL_TIMING,
                "connect": OPTIONAL_TIMING,
                "send": TIMING,
                "wait": TIMING,
                "receive": TIMING,
                "ssl": OPTIONAL_TIMING,
            },
        ),
        "serverIPAddress": STRING,
        "connection": STRING,
    },
)
CREATOR = _obj(["name", "version"], {"name": STRING, "version": STRING})
HAR_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["log"],
    "properties": {
        "log": _obj(
            ["version", "creator", "entries"],
            {
                "version": {"type": "string", "const": "1.2"},
                "creator": CREATOR,
                "browser": CREATOR,
                "pages": {
                    "type": "array",
                    "items": _obj(
                        ["startedDateTime", "id", "title", "pageTimings"],
                        {
                            "startedDateTime": DATETIME,
                            "id": STRING,
                            "title": STRING,
                            "pageTimings": _obj(
                                [],
                                {"onContentLoad": {"type": "number"}, "onLoad": {"type": "number"}},
                            ),
                        },
                    ),
                },
                "entries": {"type": "array", "items": ENTRY},
            },
        )
    },
    "additionalProperties": False,
}
