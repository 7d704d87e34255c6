"""One ASGI app serving the progress-demo server over both HTTP transports.

* `/mcp` - Streamable HTTP, stateful: it answers 2026-07-28 (stateless, per-request
  envelope) clients and handshake-era (`initialize`, 2025-xx) clients alike.
* `/sse` + `/messages/` - the 2024-11-05 HTTP+SSE transport.

Both run on one port so that a single proxy in front of the server sees all three eras.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from demo_server.event_store import InMemoryEventStore
from demo_server.server import build_server

MCP_PATH = "/mcp"
SSE_PATH = "/sse"
MESSAGE_PATH = "/messages/"

# DNS-rebinding protection, pinned to loopback whatever interface we bind to. The SDK would
# derive the same list only when told host="127.0.0.1"; spelling it out keeps the rule the
# same for every bind address. ":*" patterns accept any port, which matters because a
# proxy in front rewrites Host to this server's own (ephemeral) authority.
_LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
TRANSPORT_SECURITY = TransportSecuritySettings(
    enable_dns_rebinding_protection=True,
    allowed_hosts=[*_LOOPBACK, *(f"{host}:*" for host in _LOOPBACK)],
    allowed_origins=[f"http://{host}{port}" for host in _LOOPBACK for port in ("", ":*")],
)


def build_app(step_delay: float = 0.2, event_store: bool = False) -> Starlette:
    """Build the combined Streamable HTTP + HTTP+SSE app.

    With `event_store=True` the Streamable HTTP transport gets an `InMemoryEventStore`: its
    SSE events carry `id:` lines and a client can resume a stream with `Last-Event-ID`.
    """
    server = build_server(step_delay)
    streamable = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        event_store=InMemoryEventStore() if event_store else None,
        transport_security=TRANSPORT_SECURITY,
    )
    legacy_sse = server.sse_app(
        sse_path=SSE_PATH, message_path=MESSAGE_PATH, transport_security=TRANSPORT_SECURITY
    )

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        # A mounted sub-app's lifespan never runs, so start the Streamable HTTP session
        # manager (the task group every /mcp session lives in) from the outer app.
        # The SSE transport needs nothing here: each connection runs its own server loop.
        async with server.session_manager.run():
            yield

    # Lift the routes out of both apps rather than mounting them, so the paths stay
    # exactly /mcp, /sse and /messages/ (a Mount would add prefixes and slash redirects).
    return Starlette(
        routes=[*streamable.routes, *legacy_sse.routes],
        middleware=[Middleware(OneResponseGuard)],
        lifespan=lifespan,
    )


class OneResponseGuard:
    """Let each HTTP request be answered by one response only.

    The SDK's `/sse` endpoint returns an empty `Response()` once its event stream ends. When
    the client hung up, uvicorn ignores that second response; but when the stream ends on
    the server's side (Ctrl-C with an SSE client attached), the event stream stops without
    its closing chunk and uvicorn logs the second response as a RuntimeError traceback.
    Instead, the guard turns that second response into the first one's missing end.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = finished = False

        async def send_one_response(message: Message) -> None:
            nonlocal started, finished
            if finished:
                return
            if message["type"] == "http.response.start":
                if started:  # a second response: close the first one instead
                    finished = True
                    message = {"type": "http.response.body", "body": b"", "more_body": False}
                started = True
            elif message["type"] == "http.response.body":
                finished = not message.get("more_body", False)
            await send(message)

        await self.app(scope, receive, send_one_response)
