"""A deliberately misbehaving MCP server: a plain ASGI app that breaks the progress rules.

It speaks just enough Streamable HTTP for a real `mcp` client (2026-07-28 `server/discover`,
or the `initialize` handshake) and answers `tools/call` with a scripted SSE stream:

* `bad_progress`  progress going down, progress for a token nobody holds, the result, then
                  progress after the result (three findings for the tracker);
* `good_progress` progress 1..steps with a total, then the result (`steps`, `step_delay`);
* `no_progress`   the result only, though the client asked for progress;
* `silent_close`  progress, then the stream ends without a result;
* `hostile_text`  (and any name starting so) progress and a result whose text holds terminal
                  control sequences (`HOSTILE`): a window title, a screen clear, a clipboard
                  write, an 8-bit CSI.

With `--fail-with STATUS` it answers every request with that status and a plain-text body
instead: a server that is up but broken.

Run it alone with `python tests/misbehaving_server.py --port N`, or in-process with
`async with running_misbehaving_server() as base_url:` (the MCP endpoint is `base_url/mcp`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `mcp_tap` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mcp_tap.http.serving import serving  # noqa: E402

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

MODERN = "2026-07-28"
META_VERSION = "io.modelcontextprotocol/protocolVersion"
UNKNOWN_TOKEN = "nobody-holds-this-token"
SERVER_INFO = {"name": "misbehaving", "version": "0.1.0"}
TOOLS = ["bad_progress", "good_progress", "no_progress", "silent_close", "hostile_text"]
# OSC 0 (window title), ED 2 (clear the screen), OSC 52 (clipboard: "hacked"), C1 CSI (red)
HOSTILE = "\x1b]0;TITLE\x07\x1b[2J\x1b]52;c;aGFja2Vk\x07\x9b31m"


def sse(message: dict[str, Any]) -> bytes:
    """One SSE event carrying one JSON-RPC message."""
    return b"event: message\r\ndata: " + json.dumps(message).encode() + b"\r\n\r\n"


def progress(token: Any, value: float, total: float | None = None, text: str = "") -> bytes:
    params: dict[str, Any] = {"progressToken": token, "progress": value}
    if total is not None:
        params["total"] = total
    if text:
        params["message"] = text
    return sse({"jsonrpc": "2.0", "method": "notifications/progress", "params": params})


def tool_result(request_id: Any, text: str, modern: bool) -> dict[str, Any]:
    result: dict[str, Any] = {"content": [{"type": "text", "text": text}], "isError": False}
    if modern:
        result["resultType"] = "complete"
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def scripted_stream(
    name: str, request_id: Any, token: Any, args: dict[str, Any], modern: bool
) -> list[tuple[bytes, float]]:
    """The SSE events (and the pause before each) that answer one tools/call."""
    done = sse(tool_result(request_id, f"{name} done", modern))
    if name == "bad_progress":
        # one body chunk: the proxy sees it all even if the client hangs up after the result
        body = progress(token, 5, 10, "halfway") + progress(token, 3, 10, "going down")
        body += progress(UNKNOWN_TOKEN, 1) + done + progress(token, 6, 10, "after the result")
        return [(body, 0.0)]
    if name == "good_progress":
        steps, delay = int(args.get("steps", 3)), float(args.get("step_delay", 0.0))
        events = [
            (progress(token, i, steps, f"step {i}/{steps}"), delay) for i in range(1, steps + 1)
        ]
        return [*events, (done, 0.0)]
    if name == "silent_close":
        return [(progress(token, 1, 2, "and then nothing"), 0.0)]
    if name.startswith("hostile_text"):
        result = sse(tool_result(request_id, f"result {HOSTILE} end", modern))
        return [(progress(token, 1, 2, f"step {HOSTILE}"), 0.0), (result, 0.0)]
    return [(done, 0.0)]


class MisbehavingServer:
    """The ASGI app. `calls` counts the tools/call requests it answered."""

    def __init__(self, broken: frozenset[str] = frozenset(), fail_with: int | None = None) -> None:
        self.calls = 0
        self.broken = broken  # tools answered with the bad_progress script instead
        self.fail_with = fail_with  # the status of every answer, when set

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        if self.fail_with is not None:
            await self._respond(send, self.fail_with, b"broken on purpose\n", "text/plain")
            return
        if scope["method"] == "DELETE":
            await self._respond(send, 200, b"", "text/plain")
            return
        if scope["method"] != "POST":
            await self._respond(send, 405, b"", "text/plain", [(b"allow", b"POST")])
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await self._post(json.loads(body or b"null"), send)

    async def _post(self, message: Any, send: Send) -> None:
        if not isinstance(message, dict) or "method" not in message or "id" not in message:
            await self._respond(send, 202, b"", "text/plain")  # notifications and responses
            return
        method, request_id = message["method"], message["id"]
        params = message.get("params") or {}
        meta = params.get("_meta") or {}
        modern = meta.get(META_VERSION) == MODERN
        if method == "server/discover":
            result = {
                "supportedVersions": [MODERN],
                "capabilities": {"tools": {}},
                "serverInfo": SERVER_INFO,
                "resultType": "complete",
                "ttlMs": 0,
                "cacheScope": "private",
            }
            await self._json(send, {"jsonrpc": "2.0", "id": request_id, "result": result})
        elif method == "initialize":
            result = {
                "protocolVersion": params.get("protocolVersion", "2025-11-25"),
                "capabilities": {"tools": {}},
                "serverInfo": SERVER_INFO,
            }
            session = [(b"mcp-session-id", uuid.uuid4().hex.encode())]
            await self._json(send, {"jsonrpc": "2.0", "id": request_id, "result": result}, session)
        elif method == "tools/list":
            tools = [{"name": n, "inputSchema": {"type": "object"}} for n in TOOLS]
            modern_fields = {"resultType": "complete", "ttlMs": 0, "cacheScope": "private"}
            result = {"tools": tools, **(modern_fields if modern else {})}
            await self._json(send, {"jsonrpc": "2.0", "id": request_id, "result": result})
        elif method == "tools/call":
            self.calls += 1
            args = params.get("arguments") or {}
            token = meta.get("progressToken")
            name = params.get("name", "")
            script = "bad_progress" if name in self.broken else name
            await self._stream(send, scripted_stream(script, request_id, token, args, modern))
        elif method == "ping":
            await self._json(send, {"jsonrpc": "2.0", "id": request_id, "result": {}})
        else:
            error = {"code": -32601, "message": f"method not found: {method}"}
            await self._json(send, {"jsonrpc": "2.0", "id": request_id, "error": error})

    async def _stream(self, send: Send, events: list[tuple[bytes, float]]) -> None:
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for chunk, pause in events:
            if pause:
                await asyncio.sleep(pause)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _json(
        self, send: Send, message: dict[str, Any], extra: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        await self._respond(send, 200, json.dumps(message).encode(), "application/json", extra)

    async def _respond(
        self,
        send: Send,
        status: int,
        body: bytes,
        content_type: str,
        extra: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        headers = [
            (b"content-type", content_type.encode()),
            (b"content-length", str(len(body)).encode()),
        ]
        await send(
            {"type": "http.response.start", "status": status, "headers": headers + (extra or [])}
        )
        await send({"type": "http.response.body", "body": body})


@contextlib.asynccontextmanager
async def running_misbehaving_server(
    host: str = "127.0.0.1",
    port: int = 0,
    broken: frozenset[str] = frozenset(),
    fail_with: int | None = None,
) -> AsyncIterator[str]:
    """Serve the misbehaving server in this event loop on a free port; yield its base URL."""
    async with serving(MisbehavingServer(broken, fail_with), host, port) as base_url:
        yield base_url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the misbehaving MCP test server.")
    parser.add_argument("--port", type=int, required=True, help="TCP port (0 picks a free one)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--break",
        dest="broken",
        action="append",
        default=[],
        metavar="TOOL",
        help="answer this tool with the bad_progress script (repeatable)",
    )
    parser.add_argument(
        "--fail-with",
        type=int,
        default=None,
        metavar="STATUS",
        help="answer every request with this HTTP status instead (e.g. 501)",
    )
    args = parser.parse_args(argv)

    async def serve() -> None:
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):  # a clean stop, even as a background job
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        async with running_misbehaving_server(
            args.host, args.port, frozenset(args.broken), args.fail_with
        ) as base_url:
            print(f"misbehaving server: {base_url}/mcp", flush=True)
            await stop.wait()

    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
