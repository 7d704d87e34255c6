"""A 2026-07-28 POST's mirrored headers against its body, as its server must check them.

Streamable HTTP 2026-07-28 copies the body's protocol version, method, target name and the
tool arguments an `inputSchema` marks with `x-mcp-header` into `MCP-Protocol-Version`,
`Mcp-Method`, `Mcp-Name` and `Mcp-Param-{Name}`, so intermediaries can route without parsing
the body; a server MUST reject a request whose headers are missing, repeated or differ from
its body (-32020). Values outside plain visible ASCII travel as `=?base64?...?=`; integers
compare as numbers, booleans as `true`/`false`.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from mcp_tap.protocol.events import Headers

NAMED = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
ROUTING = ("mcp-protocol-version", "mcp-method", "mcp-name")
Annotation = tuple[str, tuple[str, ...]]
"""An `Mcp-Param-{Name}` header (lower case) and the path of the argument it mirrors."""


def header_marks(input_schema: Any) -> list[Annotation]:
    """The `x-mcp-header` marks of a tool's `inputSchema`, reached through `properties` only."""
    found: list[Annotation] = []

    def walk(schema: Any, path: tuple[str, ...]) -> None:
        properties = schema.get("properties") if isinstance(schema, dict) else None
        if not isinstance(properties, dict):
            return
        for name, sub in properties.items():
            if not isinstance(sub, dict):
                continue
            mark = sub.get("x-mcp-header")
            if isinstance(mark, str) and mark:
                found.append((f"mcp-param-{mark.lower()}", (*path, name)))
            walk(sub, (*path, name))

    walk(input_schema, ())
    return found


def tool_marks(tools: Any) -> list[tuple[str, list[Annotation]]]:
    """Each named tool of a tools/list result's `tools` and its `x-mcp-header` marks."""
    return [
        (tool["name"], header_marks(tool.get("inputSchema")))
        for tool in tools or ()
        if isinstance(tool, dict) and isinstance(tool.get("name"), str)
    ]


def header_problems(
    headers: Headers, payload: dict[str, Any], version: str, marks: list[Annotation]
) -> list[str]:
    """What is wrong with a request's mirrored headers, for people; empty when nothing."""
    problems = []
    values: dict[str, list[str]] = {}
    for name, value in headers:
        values.setdefault(name, []).append(value)
    if len(values) < len(headers):  # a name came more than once
        for name, got in sorted(values.items()):
            if len(got) > 1 and (name in ROUTING or name.startswith("mcp-param-")):
                problems.append(f"{_title(name)} appears {len(got)} times")
    method = payload.get("method")
    params = payload.get("params")
    params = params if isinstance(params, dict) else {}
    problems += _compare(values, "mcp-protocol-version", version)
    problems += _compare(values, "mcp-method", method)
    field = NAMED.get(str(method))
    if field is not None and isinstance(params.get(field), str):
        problems += _compare(values, "mcp-name", params[field])
    arguments = params.get("arguments")
    for name, path in marks if method == "tools/call" else ():
        value = _at(arguments, path)
        if value is None:
            if name in values:
                problems.append(f"{_title(name)} is sent, but the argument it mirrors is not")
        else:
            problems += _compare(values, name, value)
    return problems


def _compare(values: dict[str, list[str]], name: str, expected: Any) -> list[str]:
    got = values.get(name)
    if not got:
        return [f"no {_title(name)} header (the body says {expected!r})"]
    sent = got[0]
    decoded = decode(sent) if name not in ("mcp-protocol-version", "mcp-method") else sent
    if decoded is None:
        return [f"{_title(name)} {sent!r} is not valid =?base64?...?="]
    if not _same(decoded, expected):
        return [f"{_title(name)} says {decoded!r}, the body {expected!r}"]
    return []


def decode(value: str) -> str | None:
    """A header value with its Base64 sentinel undone; None when the Base64 is broken."""
    if not (value.startswith("=?base64?") and value.endswith("?=") and len(value) >= 11):
        return value
    try:
        return base64.b64decode(value[9:-2], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


def _same(text: str, value: Any) -> bool:
    if isinstance(value, bool):
        return text == ("true" if value else "false")
    if isinstance(value, int):
        try:
            return float(text) == value  # "42.0" and 42 are the same integer
        except ValueError:
            return False
    return text == str(value)


def _at(arguments: Any, path: tuple[str, ...]) -> Any:
    node = arguments
    for step in path:
        if not isinstance(node, dict):
            return None
        node = node.get(step)
    return node


def _title(name: str) -> str:
    if name == "mcp-protocol-version":
        return "MCP-Protocol-Version"
    return "-".join(part.capitalize() for part in name.split("-"))
