"""The web view's starlette app: the page, its JSON API and its event stream.

Every route reads the store on the event loop it runs on (the proxy's), so no lock is
needed; each answers in time bounded by one page of rows or one call.
"""

from __future__ import annotations

import html
from importlib import resources
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from mcp_tap.web.feed import Feed
from mcp_tap.web.resend import Resender, ResendError, comparison
from mcp_tap.web.store import CallStore, Filter

STATIC = resources.files("mcp_tap.web") / "static"
_TYPES = {"app.js": "text/javascript", "app.css": "text/css"}
SECURITY_HEADERS = {
    # the page loads nothing but its own files, and no one may frame it
    "content-security-policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=str)


def build_app(
    store: CallStore, feed: Feed, token: str, resender: Resender | None, title: str
) -> Starlette:
    """The app over `store`; `resender` None: the page offers no resend."""

    async def index(request: Request) -> Response:
        text = (STATIC / "index.html").read_text(encoding="utf-8")
        text = text.replace("__TOKEN__", html.escape(token)).replace(
            "__TITLE__", html.escape(title)
        )
        return Response(text, media_type="text/html", headers=SECURITY_HEADERS)

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _TYPES:
            return Response("not found\n", 404)
        body = (STATIC / name).read_bytes()
        return Response(body, media_type=_TYPES[name], headers=SECURITY_HEADERS)

    async def calls(request: Request) -> Response:
        q = request.query_params
        where = Filter(
            method=q.get("method", ""),
            tool=q.get("tool", ""),
            session=q.get("session", ""),
            finding=q.get("finding", ""),
            text=q.get("text", ""),
        )
        offset, limit = _int(q.get("offset"), 0), _int(q.get("limit"), 100)
        return JSON(store.page(where, offset, limit))

    async def one_call(request: Request) -> Response:
        found = store.detail(_int(request.path_params["n"], 0))
        if found is None:
            return JSON({"error": "no such call"}, 404)
        found["resend"] = resender is not None
        return JSON(found)

    async def summary(request: Request) -> Response:
        return JSON({"summary": store.summary(), "title": title, "resend": resender is not None})

    async def findings(request: Request) -> Response:
        return JSON(store.findings_json())

    async def streams(request: Request) -> Response:
        return JSON(store.streams())

    async def events(request: Request) -> Response:
        return StreamingResponse(
            feed.stream(),
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )

    async def resend(request: Request) -> Response:
        number = _int(request.path_params["n"], 0)
        entry = store.call(number)
        if entry is None:
            return JSON({"error": "no such call"}, 404)
        if resender is None:
            return JSON({"error": "this view cannot send calls again"}, 400)
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError as error:
            return JSON({"error": f"the params are not JSON: {error}"}, 400)
        params = body.get("params") if isinstance(body, dict) else None
        try:
            events, local = store.resend_input(number)  # numbered anew past dropped calls
            received = await resender.resend(events, local, params)
        except ResendError as error:
            return JSON({"error": str(error)}, 400)
        recorded = entry.response.message.payload if entry.response is not None else None
        return JSON(comparison(recorded, received))

    return Starlette(
        routes=[
            Route("/", index),
            Route("/static/{name}", static),
            Route("/api/calls", calls),
            Route("/api/calls/{n}", one_call),
            Route("/api/calls/{n}/resend", resend, methods=["POST"]),
            Route("/api/summary", summary),
            Route("/api/findings", findings),
            Route("/api/streams", streams),
            Route("/api/events", events),
        ]
    )


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default
