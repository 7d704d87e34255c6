"""A stdio MCP server that breaks the lifecycle, capability, id and 2026-07-28 rules on cue.

    python tests/misbehaving_stdio_server.py

It answers each request the host sends by its id, from `SCRIPT`: the lines it writes, in
order, before it reads the next. The host (tests/test_lifecycle_checks.py) sends `HOST`, a
conversation that plants one violation a rule, in both eras: a handshake session (offered
2025-06-18, answered 2025-11-25) and then 2026-07-28 requests on the same process, which a
dual-era server may serve side by side. `expected` says how many lines answer each message.
"""

from __future__ import annotations

import json
import sys
from typing import Any

MODERN = "2026-07-28"


def modern(id: int, method: str, capabilities: dict[str, Any] | None = None, **params: Any) -> Any:
    meta = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": capabilities or {},
    }
    return {"jsonrpc": "2.0", "id": id, "method": method, "params": {"_meta": meta, **params}}


def req(id: Any, method: str, **params: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id, "method": method, "params": params}


def note(method: str, **params: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": method, "params": params}


def ok(id: Any, **result: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id, "result": result}


def page(id: int, scope: str, following: str | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"resultType": "complete", "ttlMs": 0, "cacheScope": scope}
    result["tools"] = [{"name": "ask", "inputSchema": {"type": "object"}}]
    if following is not None:
        result["nextCursor"] = following
    return ok(id, **result)


ELICIT = {"method": "elicitation/create", "params": {"message": "who?", "requestedSchema": {}}}
SAMPLE = {"method": "sampling/createMessage", "params": {"messages": [], "maxTokens": 9}}

# What the host sends, each with the comment of what it plants (None: clean).
HOST: list[tuple[dict[str, Any], str | None]] = [
    (req(1, "tools/list"), "request-before-initialized: a request before initialize"),
    (
        req(2, "initialize", protocolVersion="2025-06-18", capabilities={}, clientInfo={}),
        "request-before-initialized: the server's list_changed before initialized",
    ),
    (note("notifications/initialized"), "version-not-offered: the client went on"),
    (req(3, "prompts/list"), "server-capability-undeclared: no `prompts`"),
    (req(4, "resources/subscribe", uri="file:///a"), None),
    (req(5, "ping"), "resource-not-subscribed: file:///b (file:///a/x is a sub-resource)"),
    (req(6, "tools/call", name="ask"), "client-capability-undeclared: elicitation/create"),
    ({"jsonrpc": "2.0", "id": "e1", "result": {"action": "decline"}}, None),
    (req(7, "tools/call", name="twice"), "response-duplicate, response-unknown-id (99)"),
    (req(7, "tools/list"), "request-id-reused: id 7 again"),
    (modern(100, "tools/list"), None),
    (modern(101, "tools/list", cursor="c2"), "cache-scope-inconsistent"),
    (modern(102, "prompts/list"), "result-type-unknown"),
    (modern(103, "resources/list"), "input-required-invalid: resources/list"),
    (modern(104, "tools/call", {"elicitation": {}}, name="ask"), None),
    (
        modern(104, "tools/call", {"elicitation": {}}, name="ask", requestState="st-1"),
        "input-retry-invalid: its id, and no inputResponses for who",
    ),
    (modern(106, "tools/call", name="pick"), "client-capability-undeclared: sampling"),
]

SCRIPT: dict[Any, list[dict[str, Any]]] = {
    1: [ok(1, tools=[])],
    2: [
        note("notifications/tools/list_changed"),
        ok(
            2,
            protocolVersion="2025-11-25",
            capabilities={"tools": {"listChanged": True}, "resources": {"subscribe": True}},
            serverInfo={"name": "misbehaving-stdio", "version": "1"},
        ),
    ],
    3: [{"jsonrpc": "2.0", "id": 3, "error": {"code": -32601, "message": "no prompts"}}],
    4: [ok(4)],
    5: [
        note("notifications/resources/updated", uri="file:///b"),
        note("notifications/resources/updated", uri="file:///a/x"),
        ok(5),
    ],
    6: [req("e1", **ELICIT), ok(6, content=[])],
    7: [ok(7, content=[]), ok(7, content=[]), ok(99, content=[])],
    100: [page(100, "public", "c2")],
    101: [page(101, "private")],
    102: [ok(102, resultType="partial", prompts=[])],
    103: [ok(103, resultType="input_required", requestState="s")],
    104: [ok(104, resultType="input_required", inputRequests={"who": ELICIT}, requestState="st-1")],
    106: [ok(106, resultType="input_required", inputRequests={"pick": SAMPLE})],
}
SECOND = {7: [ok(7, tools=[])], 104: [ok(104, resultType="complete", content=[])]}


def expected(message: dict[str, Any], seen: set[Any]) -> list[dict[str, Any]]:
    """The lines that answer `message`; an id's second request gets `SECOND`'s."""
    if "method" not in message or "id" not in message:
        return []
    key = message["id"]
    lines = SECOND[key] if key in seen else SCRIPT[key]
    seen.add(key)
    return lines


def main() -> int:
    seen: set[Any] = set()
    for line in sys.stdin:
        for answer in expected(json.loads(line), seen):
            sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
