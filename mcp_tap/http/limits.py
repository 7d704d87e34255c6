"""Every limit of the HTTP carrier in one place: a default, a flag, a line in the README.

A proxy that any local client can reach must not let one client, or one upstream, take all
of its memory, descriptors or time. Each field is what uvicorn, h11 or httpcore would bound,
chosen so that no real MCP client comes near it.
"""

from __future__ import annotations

from dataclasses import dataclass

from mcp_tap.tap.exchange import DEFAULT_MAX_MESSAGE

DEFAULT_MAX_BODY = 16 * 1024 * 1024  # above the SDK servers' own 4 MiB, so theirs still answers
DEFAULT_MAX_HEADER_BYTES = 64 * 1024  # request line and headers; h11 allows 16 KiB
DEFAULT_HEADER_TIMEOUT = 30.0  # from a request's first byte to the end of its headers
DEFAULT_BODY_TIMEOUT = 30.0  # from the end of the headers to the end of the body
DEFAULT_MAX_CONNECTIONS = 1000  # open client connections; each also holds one upstream
DEFAULT_KEEP_ALIVE_TIMEOUT = 75.0  # an idle client connection is closed after this long
# Longer than the SDKs' own 300 s SSE read timeout, so a quiet stream is never cut by us first.
DEFAULT_IDLE_TIMEOUT = 330.0
DEFAULT_UPSTREAM_KEEP_ALIVE = 4.0  # an idle upstream connection is reused this long (< 5 s)
DEFAULT_MAX_IDLE_UPSTREAM = 200  # idle upstream connections kept for reuse; more are closed
DEFAULT_CONNECT_TIMEOUT = 10.0  # an upstream (or a tunnelled host) must accept within this
DEFAULT_MAX_INSPECT = DEFAULT_MAX_MESSAGE  # one message held for inspection; longer ones are cut
DEFAULT_MAX_CERTS = 1000  # --forward: host certificates kept in memory; older ones are re-minted


@dataclass(frozen=True)
class Limits:
    """The bounds one proxy applies to its clients, its upstream and its inspection side."""

    max_body: int = DEFAULT_MAX_BODY
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    keep_alive_timeout: float = DEFAULT_KEEP_ALIVE_TIMEOUT
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT  # upstream silence that ends an exchange
    upstream_keep_alive: float = DEFAULT_UPSTREAM_KEEP_ALIVE
    max_idle_upstream: int = DEFAULT_MAX_IDLE_UPSTREAM
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    max_inspect: int = DEFAULT_MAX_INSPECT
    max_certs: int = DEFAULT_MAX_CERTS


DEFAULT_LIMITS = Limits()
