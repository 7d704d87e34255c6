"""What spy mode's upstreams share: the answer they bring back, their error, the handshake."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mcp_tap.protocol.events import StreamKind
from mcp_tap.protocol.jsonrpc import classify_text

CLIENT_VERSION_HEADER = "mcp-protocol-version"
# The client's headers the spy sets itself, or that belong to the client's connection
NOT_FORWARDED = frozenset(
    {
        "host",
        "content-length",
        "content-type",
        "accept",
        "accept-encoding",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "upgrade",
        "mcp-session-id",
        CLIENT_VERSION_HEADER,
    }
)
INITIALIZE_ID = "mcp-tap-spy-initialize"


class SpyError(Exception):
    """The real server could not answer a forwarded request (one line for the client)."""


@dataclass
class Forwarded:
    """What the real server sent for one forwarded request."""

    messages: list[dict[str, Any]]  # notifications first, the response last
    stream: StreamKind  # how it came: an event stream, one JSON body, stdio lines
    session: str | None = None

    @property
    def streamed(self) -> bool:
        """It came as several messages over time, as a stream would carry them."""
        return self.stream is not StreamKind.JSON_RESPONSE


def handshake(
    recorded: dict[str, Any] | None, version: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The `initialize` an upstream session opens with, and the notification that ends it.

    The recorded one when there is one: its protocol version is the one the mock's answers
    (and so the client) speak; otherwise a minimal one in the client's version."""
    if recorded is not None:
        initialize = dict(recorded)
    else:
        initialize = {
            "jsonrpc": "2.0",
            "method": "initialize",
            "params": {
                "protocolVersion": version or "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "mcp-tap-spy", "version": "1"},
            },
        }
    initialize["id"] = INITIALIZE_ID
    return initialize, {"jsonrpc": "2.0", "method": "notifications/initialized"}


def payloads(text: str | bytes) -> list[dict[str, Any]]:
    """The JSON-RPC objects in a body or a line."""
    return [m.payload for m in classify_text(text) if isinstance(m.payload, dict)]
