"""The `mcp` SDK client with its OAuth provider, for the forward-proxy OAuth tests.

    python tests/clients/oauth_client.py https://localhost:PORT/mcp [--refresh-after S]

It connects with `OAuthClientProvider` as the HTTP client's auth: on the server's 401 the
SDK discovers the protected-resource and authorization-server metadata, registers a client,
and sends the user to the authorization URL; here the "user" is an HTTP request (through the
same proxy, from the environment) whose 302 carries the code and state back. Then it calls
`download_file`, and with `--refresh-after` waits that long and lists the tools, so an
expired access token is refreshed. One JSON object a line on stdout, as py_client.py:

    {"event": "progress", "progress": p, "total": t, "t": ...}
    {"event": "result", "text": ..., "t": ...}
    {"event": "tools", "names": [...], "t": ...}
    {"event": "error", "type": ..., "message": ..., "t": ...}   (exit 1)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx2
from mcp import Client
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

_START = time.monotonic()
REDIRECT_URI = "http://127.0.0.1:9/callback"  # never reached: the 302 is read, not followed


def emit(event: str, **fields: Any) -> None:
    line = {"event": event, **fields, "t": round(time.monotonic() - _START, 4)}
    sys.stdout.write(json.dumps(line, default=str) + "\n")
    sys.stdout.flush()


class MemoryStorage:
    """The SDK's `TokenStorage`, kept in memory for one run."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


class AutoApprove:
    """Plays the user: opens the authorization URL and reads the redirect's code and state."""

    def __init__(self) -> None:
        self.result: AuthorizationCodeResult | None = None

    async def redirect(self, authorization_url: str) -> None:
        async with httpx2.AsyncClient(timeout=20) as http:  # HTTPS_PROXY etc. from the env
            response = await http.get(authorization_url)
        if response.status_code != 302:
            raise RuntimeError(f"authorization answered {response.status_code}: {response.text}")
        query = parse_qs(urlsplit(response.headers["location"]).query)
        self.result = AuthorizationCodeResult(code=query["code"][0], state=query["state"][0])

    async def callback(self) -> AuthorizationCodeResult:
        assert self.result is not None, "the redirect handler has not run"
        return self.result


async def run(url: str, refresh_after: float | None) -> None:
    approve = AutoApprove()
    provider = OAuthClientProvider(
        server_url=url,
        client_metadata=OAuthClientMetadata(
            redirect_uris=[REDIRECT_URI],  # type: ignore[list-item]
            client_name="mcp-tap oauth test",
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="client_secret_post",
        ),
        storage=MemoryStorage(),
        redirect_handler=approve.redirect,
        callback_handler=approve.callback,
    )
    async with create_mcp_http_client(auth=provider) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:

            async def on_progress(
                progress: float, total: float | None, message: str | None
            ) -> None:
                emit("progress", progress=progress, total=total, message=message)

            result = await client.call_tool(
                "download_file", {"filename": "report.pdf", "size_mb": 5},
                progress_callback=on_progress,
            )  # fmt: skip
            text = "".join(getattr(block, "text", "") for block in result.content or [])
            emit("result", text=text, is_error=bool(result.is_error))
            if refresh_after is not None:
                await anyio.sleep(refresh_after)
                tools = await client.list_tools()
                emit("tools", names=[tool.name for tool in tools.tools])


async def bounded(url: str, refresh_after: float | None) -> None:
    with anyio.fail_after(60):
        await run(url, refresh_after)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--refresh-after", type=float, default=None)
    ns = parser.parse_args()
    try:
        anyio.run(bounded, ns.url, ns.refresh_after)
    except BaseException as exc:  # boundary: one JSON line naming the first real cause
        while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
            exc = exc.exceptions[0]
        emit("error", type=type(exc).__name__, message=str(exc))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
