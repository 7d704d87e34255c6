"""A handshake-era MCP server: it knows `initialize` and refuses the 2026-07-28 probe.

Servers built before `server/discover` existed answer it as an unknown request: HTTP 400
with a JSON-RPC error body (-32601, method not found). The `mcp` 2.x client's default mode
sends that probe first and falls back to `initialize`, so a healthy session through such a
server always opens with one refused request. The id in the error body is the probe's by
default; `--null-id` answers with `"id": null`, as servers that refuse before parsing do.

Everything else goes to an `mcp` 2.x server in its handshake-era path, with two tools:
`echo` and `fail`, which raises and so comes back as a result with `isError: true`.

    python -m tests.handshake_server [--null-id]   (prints its URL; serves on a free port)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp.server.mcpserver import MCPServer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from demo_server.app import TRANSPORT_SECURITY
from mcp_tap.http.serving import serving

PROBE = "server/discover"
METHOD_NOT_FOUND = -32601


def build_server() -> MCPServer:
    """The tools behind the era gate."""
    server = MCPServer("handshake-era", log_level="WARNING")

    @server.tool()
    def echo(text: str) -> str:
        """Return `text` unchanged."""
        return text

    @server.tool()
    def fail(reason: str = "disk full") -> str:
        """Always fail: the SDK turns the exception into a result with isError: true."""
        raise ValueError(reason)

    return server


class RefuseDiscover:
    """ASGI middleware: a `server/discover` POST gets 400 and a JSON-RPC error."""

    def __init__(self, app: ASGIApp, null_id: bool) -> None:
        self.app = app
        self.null_id = null_id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body = b""
        while True:
            message = await receive()
            messages.append(message)
            body += message.get("body", b"")
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        request = _json(body)
        if isinstance(request, dict) and request.get("method") == PROBE:
            request_id = None if self.null_id else request.get("id")
            await _refuse(send, request_id)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


async def _refuse(send: Send, request_id: Any) -> None:
    error = {"code": METHOD_NOT_FOUND, "message": f"Method not found: {PROBE}"}
    payload = json.dumps({"jsonrpc": "2.0", "id": request_id, "error": error}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]
    await send({"type": "http.response.start", "status": 400, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def build_app(null_id: bool = False) -> ASGIApp:
    """The handshake-era server's ASGI app, serving `/mcp`."""
    server = build_server()
    app = server.streamable_http_app(
        streamable_http_path="/mcp", transport_security=TRANSPORT_SECURITY
    )
    return RefuseDiscover(app, null_id)


@asynccontextmanager
async def running_handshake_server(null_id: bool = False) -> AsyncIterator[str]:
    """Serve it in this event loop on a free port; yield its base URL."""
    async with serving(build_app(null_id), "127.0.0.1", 0, log_level="warning") as url:
        yield url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the handshake-era MCP test server.")
    parser.add_argument("--null-id", action="store_true", help='refuse the probe with "id": null')
    args = parser.parse_args(argv)

    async def serve() -> None:
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        async with running_handshake_server(args.null_id) as base_url:
            print(f"handshake-era server: {base_url}/mcp", flush=True)
            await stop.wait()

    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
