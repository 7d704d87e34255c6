"""Who may talk to the web view: the token in the URL, a loopback Host, a same-origin Origin.

An ASGI middleware in front of the whole app, event stream included: a request without the
token (`?token=`), with a Host that is not this server's loopback address (DNS rebinding),
or with an Origin of another site gets 403 and nothing else.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

TOKEN_BYTES = 24
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def new_token() -> str:
    """A fresh random token for the page's URL (printed at start, as Jupyter does)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


class Guard:
    """Checks token, Host and Origin before the app sees a request (module docstring)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token
        self.port: int | None = None  # set once the server listens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        why = self.refusal(scope)
        if why is not None:
            body = f"forbidden: {why}\n".encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 403,
                    "headers": [
                        (b"content-type", b"text/plain; charset=utf-8"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)

    def refusal(self, scope: Scope) -> str | None:
        """Why this request is refused, or None."""
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        allowed = self.allowed_hosts()
        if headers.get("host", "") not in allowed:
            return "Host is not this server's loopback address"
        origin = headers.get("origin")
        if origin is not None and origin.removeprefix("http://") not in allowed:
            return "Origin is another site"
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        given = (query.get("token") or [""])[0]
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            return "the token is missing or wrong (use the URL mcp-tap printed)"
        return None

    def allowed_hosts(self) -> set[str]:
        return {f"{name}:{self.port}" for name in LOOPBACK_NAMES}
