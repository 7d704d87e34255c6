"""The demo server behind OAuth, with a tiny auto-approving authorization server, over TLS.

`python -m tests.oauth_server CERT KEY SECRETS [--expires-in S]` binds two ports on 127.0.0.1
and, once both accept connections, prints

    resource https://localhost:P1/mcp
    issuer https://localhost:P2

The resource server is the progress-demo server with the `mcp` SDK's own server-side auth:
the bearer check (`TokenVerifier`, tokens bound to the resource) and protected-resource
metadata at `/.well-known/oauth-protected-resource/mcp`. The authorization server answers
RFC 8414 metadata, dynamic client registration, `/authorize` (approved at once: a 302 to the
redirect URI with the code and state) and `/token` (authorization code with PKCE and the
`resource` parameter checked, and refresh). Every secret it issues or receives (client
secret, code, PKCE verifier, access and refresh tokens) is appended to SECRETS, one JSON
object a line, so a test can look for them where they must not be.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import uvicorn
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from demo_server.app import TRANSPORT_SECURITY
from demo_server.server import build_server
from mcp_tap.http.serving import bind_socket


@dataclass
class Issued:
    """What the authorization server handed out; the resource server checks tokens here."""

    log: Path
    expires_in: int
    clients: dict[str, dict[str, Any]] = field(default_factory=dict)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    access: dict[str, AccessToken] = field(default_factory=dict)
    refresh: dict[str, tuple[str, str]] = field(default_factory=dict)  # -> client, resource

    def note(self, kind: str, value: str) -> None:
        with self.log.open("a") as out:
            out.write(json.dumps({"kind": kind, "value": value}) + "\n")

    def tokens(self, client_id: str, resource: str) -> dict[str, Any]:
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self.access[access] = AccessToken(
            token=access,
            client_id=client_id,
            scopes=[],
            expires_at=int(time.time()) + self.expires_in + 60,
            resource=resource,
        )
        self.refresh[refresh] = (client_id, resource)
        self.note("access_token", access)
        self.note("refresh_token", refresh)
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "refresh_token": refresh,
        }


class Verifier:
    """The resource server's `TokenVerifier`: a token is valid when this test issued it."""

    def __init__(self, issued: Issued) -> None:
        self.issued = issued

    async def verify_token(self, token: str) -> AccessToken | None:
        return self.issued.access.get(token)


def _error(code: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": code, "error_description": description}, status_code=status)


def authorization_server(issuer: str, resource: str, issued: Issued) -> Starlette:
    async def metadata(_request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": issuer,
                "authorization_endpoint": f"{issuer}/authorize",
                "token_endpoint": f"{issuer}/token",
                "registration_endpoint": f"{issuer}/register",
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code", "refresh_token"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_post"],
            }
        )

    async def register(request: Request) -> Response:
        body = await request.json()
        if not isinstance(body, dict) or not body.get("redirect_uris"):
            return _error("invalid_client_metadata", "redirect_uris is required")
        client_id, secret = secrets.token_hex(8), secrets.token_urlsafe(24)
        client = {
            **body,
            "client_id": client_id,
            "client_secret": secret,
            "client_id_issued_at": int(time.time()),
            "client_secret_expires_at": 0,
            "token_endpoint_auth_method": "client_secret_post",
        }
        issued.clients[client_id] = client
        issued.note("client_secret", secret)
        return JSONResponse(client, status_code=201)

    async def authorize(request: Request) -> Response:
        query = request.query_params
        client = issued.clients.get(query.get("client_id", ""))
        if client is None:
            return _error("invalid_client", "unknown client_id")
        redirect_uri = query.get("redirect_uri", "")
        if redirect_uri not in client["redirect_uris"]:
            return _error("invalid_request", "redirect_uri was not registered")
        if query.get("response_type") != "code" or query.get("code_challenge_method") != "S256":
            return _error("invalid_request", "response_type=code with S256 PKCE only")
        if query.get("resource") != resource:
            return _error("invalid_target", f"resource must be {resource}")
        code = secrets.token_urlsafe(24)
        issued.codes[code] = {
            "client_id": client["client_id"],
            "redirect_uri": redirect_uri,
            "challenge": query.get("code_challenge", ""),
            "resource": query["resource"],
        }
        issued.note("code", code)
        location = redirect_uri + "?" + urlencode({"code": code, "state": query.get("state", "")})
        return RedirectResponse(location, status_code=302)

    async def token(request: Request) -> Response:
        form = await request.form()
        fields = {key: str(value) for key, value in form.items()}
        client = issued.clients.get(fields.get("client_id", ""))
        if client is None or not secrets.compare_digest(
            fields.get("client_secret", ""), client["client_secret"]
        ):
            return _error("invalid_client", "unknown client or wrong secret", 401)
        if fields.get("resource") != resource:
            return _error("invalid_target", f"resource must be {resource}")
        grant = fields.get("grant_type")
        if grant == "authorization_code":
            pending = issued.codes.pop(fields.get("code", ""), None)
            verifier = fields.get("code_verifier", "")
            issued.note("code_verifier", verifier)
            if pending is None or pending["client_id"] != client["client_id"]:
                return _error("invalid_grant", "unknown or used code")
            if fields.get("redirect_uri") != pending["redirect_uri"]:
                return _error("invalid_grant", "redirect_uri differs from the authorization's")
            digest = hashlib.sha256(verifier.encode()).digest()
            if base64.urlsafe_b64encode(digest).decode().rstrip("=") != pending["challenge"]:
                return _error("invalid_grant", "PKCE verifier does not match the challenge")
            return JSONResponse(issued.tokens(client["client_id"], resource))
        if grant == "refresh_token":
            held = issued.refresh.pop(fields.get("refresh_token", ""), None)
            if held is None or held[0] != client["client_id"]:
                return _error("invalid_grant", "unknown refresh token")
            return JSONResponse(issued.tokens(client["client_id"], resource))
        return _error("unsupported_grant_type", f"grant_type {grant}")

    return Starlette(
        routes=[
            Route("/.well-known/oauth-authorization-server", metadata),
            Route("/register", register, methods=["POST"]),
            Route("/authorize", authorize),
            Route("/token", token, methods=["POST"]),
        ]
    )


async def main(cert: str, key: str, log: Path, expires_in: int) -> None:
    mcp_sock, as_sock = bind_socket("127.0.0.1", 0), bind_socket("127.0.0.1", 0)
    resource = f"https://localhost:{mcp_sock.getsockname()[1]}/mcp"
    issuer = f"https://localhost:{as_sock.getsockname()[1]}"
    issued = Issued(log, expires_in)
    auth = AuthSettings(
        issuer_url=issuer,  # type: ignore[arg-type]
        resource_server_url=resource,  # type: ignore[arg-type]
        validate_token_resource=True,
    )
    server = build_server(step_delay=0.05, auth=auth, token_verifier=Verifier(issued))
    mcp_app = server.streamable_http_app(transport_security=TRANSPORT_SECURITY)
    servers = [
        uvicorn.Server(
            uvicorn.Config(
                app, log_level="warning", ssl_certfile=cert, ssl_keyfile=key, lifespan=lifespan
            )
        )
        for app, lifespan in (
            (mcp_app, "on"),
            (authorization_server(issuer, resource, issued), "off"),
        )
    ]
    tasks = [
        asyncio.create_task(s.serve(sockets=[sock]))
        for s, sock in zip(servers, (mcp_sock, as_sock), strict=True)
    ]
    while not all(s.started for s in servers):
        for task in tasks:
            if task.done():
                task.result()
        await asyncio.sleep(0.01)
    print(f"resource {resource}", flush=True)
    print(f"issuer {issuer}", flush=True)
    await asyncio.gather(*tasks)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("cert")
    parser.add_argument("key")
    parser.add_argument("secrets", type=Path)
    parser.add_argument("--expires-in", type=int, default=3600)
    ns = parser.parse_args()
    asyncio.run(main(ns.cert, ns.key, ns.secrets, ns.expires_in))
