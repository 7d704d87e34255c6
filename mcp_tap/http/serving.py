"""Run an ASGI app with uvicorn on a socket we bind ourselves, so port 0 works and is known."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import uvicorn


class PortInUse(OSError):
    """The requested listen address is taken."""


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to its owner."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind a listening TCP socket; port 0 picks a free one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio turns Nagle off only for sockets whose proto says TCP, and
    # with Nagle on every keep-alive response after the first waits ~40 ms for an ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise PortInUse(
                f"{host}:{port} is already in use (--port 0 picks a free port)"
            ) from None
        raise
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def disable_nagle(transport: asyncio.BaseTransport) -> None:
    """Send small writes at once: Nagle's algorithm would hold them for the peer's ACK."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def url_host(host: str) -> str:
    """A host as it is written in a URL (IPv6 in brackets)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


@contextlib.asynccontextmanager
async def serving(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 0,
    log_level: str = "critical",
    shutdown_grace: int = 2,
) -> AsyncIterator[str]:
    """Serve `app` in a background task; yield its base URL once it accepts connections.

    The default log level keeps uvicorn silent: mcp-tap reports faults itself, in one line.
    `shutdown_grace` is how many seconds open requests may take to finish on exit.
    """
    sock = bind_socket(host, port)
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level=log_level,
        lifespan="on",
        server_header=False,  # the upstream's own headers are what the client should see
        date_header=False,
        proxy_headers=False,  # X-Forwarded-* from a client is data to pass on, not to trust
        access_log=False,
        timeout_graceful_shutdown=shutdown_grace,  # open streams must not hold Ctrl-C hostage
        timeout_keep_alive=75,
    )
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # startup failed: raise its error here
                raise RuntimeError("server stopped during startup")
            await asyncio.sleep(0.005)
        yield f"http://{url_host(host)}:{bound_port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sock.close()
