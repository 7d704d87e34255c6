"""HTTP header facts that every carrier shares: which headers belong to one hop only.

A proxy forwards end-to-end headers untouched and drops the connection-specific ones
(RFC 9110 §7.6.1); the replayer re-sends recorded requests by the same rule.
"""

from __future__ import annotations

from mcp_tap.protocol.events import Headers

# RFC 9110 §7.6.1 connection-specific fields, plus the ones the proxy itself must set.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
SET_BY_PROXY = frozenset({"host", "content-length"})
NOT_FORWARDED_REQUEST = HOP_BY_HOP | SET_BY_PROXY  # what a request loses on its way upstream
_CONNECTION_OPTIONS = frozenset({"keep-alive", "close"})  # `Connection` values, not field names


def forwardable(headers: Headers, drop: frozenset[str] = HOP_BY_HOP) -> Headers:
    """`headers` without the ones in `drop` and the ones the `Connection` header names."""
    for name, value in headers:
        if name == "connection":
            named = {token.strip().lower() for token in value.split(",")} - _CONNECTION_OPTIONS
            if named:
                drop = drop | named
    return tuple([item for item in headers if item[0] not in drop])
