"""A timestamping MCP upstream for the first-event latency benchmark.

    python bench/stamp_server.py [--port 0]      prints `stamp-server: http://127.0.0.1:P/mcp`

A raw ASGI app (no MCP SDK) that answers a 2026-07-28 `tools/call` with an SSE stream of
`count` `notifications/progress` events, one every `interval` seconds on an absolute
schedule, then the result. Each event's `message` is `time.monotonic()` taken just before the
event is handed to the server, so a client on the same machine (CLOCK_MONOTONIC is shared by
all processes) measures arrival - send per event. Anything else is answered with an empty
result. The listening socket is made with IPPROTO_TCP so asyncio sets TCP_NODELAY on every
connection: this upstream adds no Nagle delay of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import time
from typing import Any

import uvicorn

SSE_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache, no-transform"),
]


def sse(message: dict[str, Any]) -> bytes:
    return b"event: message\r\ndata: " + json.dumps(message).encode() + b"\r\n\r\n"


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    request = json.loads(body or b"{}")
    request_id = request.get("id")
    params = request.get("params") or {}
    if request.get("method") != "tools/call":
        payload = json.dumps({"jsonrpc": "2.0", "id": request_id, "result": {}}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", b"%d" % len(payload)),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        return
    arguments = params.get("arguments") or {}
    count = int(arguments.get("count", 200))
    interval = float(arguments.get("interval", 0.01))
    token = (params.get("_meta") or {}).get("progressToken", request_id)
    await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
    started = time.monotonic()
    for step in range(1, count + 1):
        delay = started + step * interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        stamp = time.monotonic()
        notification = {
            "jsonrpc": "2.0",
            "method": "notifications/progress",
            "params": {
                "progressToken": token,
                "progress": step,
                "total": count,
                "message": repr(stamp),
            },
        }
        await send({"type": "http.response.body", "body": sse(notification), "more_body": True})
    text = f"Sent {count} progress notifications"
    result = {"content": [{"type": "text", "text": text}], "isError": False}
    final = sse({"jsonrpc": "2.0", "id": request_id, "result": result})
    await send({"type": "http.response.body", "body": final, "more_body": False})


def listening_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


async def serve(port: int) -> None:
    sock = listening_socket(port)
    config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
            return
        await asyncio.sleep(0.01)
    print(f"stamp-server: http://127.0.0.1:{sock.getsockname()[1]}/mcp", flush=True)
    await task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(serve(args.port))


if __name__ == "__main__":
    main()
