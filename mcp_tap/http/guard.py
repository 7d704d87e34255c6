"""Which requests the proxy serves at all: DNS-rebinding protection.

A proxy on loopback is reachable from any web page the user opens. A page cannot choose the
Host its browser sends after a rebinding attack (it is the attacker's name), and a cross-site
request carries the page's Origin, so checking both keeps a web page from driving a local MCP
server through the proxy.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from mcp_tap.protocol.events import Headers, header

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})


def _hostname(authority: str) -> str:
    """`127.0.0.1:8890` -> `127.0.0.1`; `[::1]:80` -> `[::1]`; lower-cased."""
    authority = authority.strip().lower()
    if authority.startswith("["):
        return authority.split("]", 1)[0] + "]"
    return authority.rsplit(":", 1)[0] if authority.count(":") == 1 else authority


class HostGuard:
    """Accepts Host and Origin values that name this machine's loopback or an allowed host."""

    def __init__(self, listen_host: str, allowed: Iterable[str] = ()) -> None:
        names = set(LOOPBACK_NAMES) | {_hostname(listen_host)}
        names |= {_hostname(name) for name in allowed}
        if ":" in listen_host and not listen_host.startswith("["):
            names.add(f"[{listen_host.lower()}]")
        self.names = frozenset(names)

    def refusal(self, headers: Headers) -> str | None:
        """Why a request must be refused (403), or None when it may pass."""
        host = header(headers, "host")
        if host is None or _hostname(host) not in self.names:
            return (
                f"Host {host!r} is not this proxy's; use --allow-host to accept it "
                "(DNS rebinding protection)"
            )
        origin = header(headers, "origin")
        if origin is not None:
            try:
                parts = urlsplit(origin)
            except ValueError:  # `http://[evil`: not a URL, so not one of ours
                return f"Origin {origin!r} is not a valid origin (DNS rebinding protection)"
            if parts.scheme not in ("http", "https") or _hostname(parts.netloc) not in self.names:
                return f"Origin {origin!r} is a foreign web origin (DNS rebinding protection)"
        return None


def is_loopback(host: str) -> bool:
    """True for an address that only this machine can reach."""
    name = _hostname(host)
    return name in LOOPBACK_NAMES or name.startswith("127.")


def declared_length(headers: Headers) -> int | None:
    """The request's Content-Length, if it sent a valid one."""
    for name, value in headers:
        if name == "content-length":
            return int(value) if value.strip().isdigit() else None
    return None
