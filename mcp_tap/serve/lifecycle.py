"""Answers to the protocol's own requests: initialize, server/discover, ping.

Sans-IO. These are answered by method alone, from the recording: each client era sends its
own (a 2026-07-28 client discovers, a handshake client initializes, with its own client info
and capabilities), so their params never decide anything. Capabilities, server info and
instructions come from whichever of the two the recording holds. A recording made before
2026-07-28 has no `server/discover`, and a server of that era did not know the method: the
mock answers as it did, with "method not found", and a default `mcp` client falls back to the
handshake, as it would have with the real server.
"""

from __future__ import annotations

import copy
from typing import Any

from mcp_tap.serve.interactions import Interaction, RecordedServer

HANDSHAKE_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
LATEST_HANDSHAKE_VERSION = HANDSHAKE_VERSIONS[-1]
SERVER_INFO_KEY = "io.modelcontextprotocol/serverInfo"
METHOD_NOT_FOUND = -32601

Answer = dict[
    str, Any
]  # a response body without `jsonrpc` and `id`: {"result": ...} or {"error": ...}


def _result(interaction: Interaction | None) -> dict[str, Any] | None:
    if interaction is None or interaction.response is None:
        return None
    result = interaction.response.get("result")
    return result if isinstance(result, dict) else None


def _server_facts(server: RecordedServer) -> dict[str, Any]:
    """Capabilities, server info and instructions, from initialize or server/discover."""
    initialized = _result(server.first("initialize"))
    if initialized is not None:
        keys = ("capabilities", "serverInfo", "instructions")
        return {k: copy.deepcopy(initialized[k]) for k in keys if k in initialized}
    discovered = _result(server.first("server/discover")) or {}
    facts: dict[str, Any] = {"capabilities": copy.deepcopy(discovered.get("capabilities", {}))}
    meta = discovered.get("_meta")
    info = discovered.get("serverInfo") or (
        meta.get(SERVER_INFO_KEY) if isinstance(meta, dict) else None
    )
    facts["serverInfo"] = (
        copy.deepcopy(info) if isinstance(info, dict) else {"name": "mcp-tap-serve", "version": ""}
    )
    if "instructions" in discovered:
        facts["instructions"] = discovered["instructions"]
    return facts


def lifecycle_answer(
    request: dict[str, Any], server: RecordedServer
) -> tuple[Answer, Interaction | None]:
    """The answer to a lifecycle request, and the recorded interaction it came from, if one."""
    method = request.get("method")
    if method == "ping":
        recorded = server.first("ping")
        return {"result": _result(recorded) or {}}, recorded
    if method == "initialize":
        recorded = server.first("initialize")
        params = request.get("params")
        asked = params.get("protocolVersion") if isinstance(params, dict) else None
        result = copy.deepcopy(_result(recorded)) or _server_facts(server)
        # A server that knows the client's version answers with it, else with its latest.
        if asked in HANDSHAKE_VERSIONS:
            result["protocolVersion"] = asked
        else:
            result.setdefault("protocolVersion", LATEST_HANDSHAKE_VERSION)
        return {"result": result}, recorded
    if method == "server/discover":
        recorded = server.first("server/discover")
        if recorded is None or recorded.response is None:
            return {
                "error": {
                    "code": METHOD_NOT_FOUND,
                    "message": "Method not found (the recording was made before server/discover)",
                }
            }, None
        body = {k: v for k, v in recorded.response.items() if k in ("result", "error")}
        return copy.deepcopy(body), recorded
    raise ValueError(f"{method!r} is not a lifecycle method")
