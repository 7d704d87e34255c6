"""A demo server behind TLS, for forward-proxy tests: `python -m tests.tls_server CERT KEY [APP]`.

Binds 127.0.0.1 on a free port and prints `serving https://localhost:PORT` once it accepts
connections. APP is `demo` (the progress demo server, the default) or `echo` (answers every
request with its method, path and body, for byte-level tests).
"""

from __future__ import annotations

import asyncio
import sys

import uvicorn

from demo_server.app import build_app
from mcp_tap.http.serving import bind_socket


async def echo_app(scope: dict, receive, send) -> None:  # type: ignore[no-untyped-def, type-arg]
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    payload = f"{scope['method']} {scope['path']} ".encode() + body
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def main(cert: str, key: str, app_name: str) -> None:
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    app = echo_app if app_name == "echo" else build_app(step_delay=0.05)
    config = uvicorn.Config(
        app, log_level="warning", ssl_certfile=cert, ssl_keyfile=key, lifespan="auto"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    print(f"serving https://localhost:{port}", flush=True)
    await task


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "demo"))
