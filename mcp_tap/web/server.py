"""Run the web view with uvicorn on the caller's event loop, on loopback only.

`running_web` binds 127.0.0.1 (port 0: a free one), starts uvicorn's server without its
signal handling (the command owns Ctrl-C), yields the page's URL with its token, and on exit
ends the event streams and stops the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator

import uvicorn

from mcp_tap.web.app import build_app
from mcp_tap.web.feed import DEFAULT_QUEUE, Feed
from mcp_tap.web.guard import Guard, new_token
from mcp_tap.web.resend import Resender
from mcp_tap.web.store import CallStore

HOST = "127.0.0.1"  # never another address: the page shows everything that crossed


class WebPortInUse(Exception):
    """The port asked for is taken."""


@contextlib.asynccontextmanager
async def running_web(
    store: CallStore,
    port: int = 0,
    resender: Resender | None = None,
    title: str = "mcp-tap",
    queue_size: int = DEFAULT_QUEUE,
) -> AsyncIterator[str]:
    """Serve the page over `store` until the block ends; yields its URL, token included."""
    token = new_token()
    feed = Feed(queue_size)
    store.listeners.append(feed.push)
    guard = Guard(build_app(store, feed, token, resender, title), token)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as error:
        sock.close()
        raise WebPortInUse(f"cannot listen on {HOST}:{port} for --web: {error.strerror}") from None
    guard.port = sock.getsockname()[1]
    config = uvicorn.Config(
        guard,
        log_level=logging.WARNING,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
    )
    config.load()
    server = uvicorn.Server(config)
    server.lifespan = config.lifespan_class(config)
    await server.startup(sockets=[sock])
    ticking = asyncio.create_task(server.main_loop())
    try:
        yield f"http://{HOST}:{guard.port}/?token={token}"
    finally:
        feed.close()
        store.listeners.remove(feed.push)
        server.should_exit = True
        await ticking
        await server.shutdown(sockets=[sock])
