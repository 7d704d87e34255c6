"""The web view tests' helpers, shared by the browser and the plain-HTTP ones: a recording
of many calls, and the page's API read with its token."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path
from typing import Any

from mcp_tap.protocol.events import (
    Direction,
    ExchangeClosed,
    ExchangeOpened,
    MessageKind,
    MessageSeen,
    ResponseStarted,
    RpcMessage,
    StreamKind,
)
from mcp_tap.recording.writer import RecordingWriter


def write_calls(path: Path, count: int) -> None:
    """A recording of `count` echo calls over one session, call 7777 the odd one out."""
    writer = RecordingWriter(path, "http://127.0.0.1:9/mcp")
    t = 0.0
    for n in range(1, count + 1):
        text = "needle-in-the-haystack" if n == 7777 else f"hay {n}"
        request = {
            "jsonrpc": "2.0",
            "id": n,
            "method": "tools/call",
            "params": {"name": "echo", "arguments": {"text": text}},
        }
        answer = {
            "jsonrpc": "2.0",
            "id": n,
            "result": {"content": [{"type": "text", "text": text}]},
        }
        headers = (("content-type", "application/json"),)
        writer.handle(ExchangeOpened(n, t, "POST", "/mcp", headers, "s1"))
        writer.handle(
            MessageSeen(
                n,
                t,
                Direction.CLIENT_TO_SERVER,
                StreamKind.REQUEST_BODY,
                "s1",
                RpcMessage(MessageKind.REQUEST, request, method="tools/call", id=n),
            )
        )
        writer.handle(ResponseStarted(n, t + 0.001, 200, headers, StreamKind.JSON_RESPONSE, "s1"))
        writer.handle(
            MessageSeen(
                n,
                t + 0.002,
                Direction.SERVER_TO_CLIENT,
                StreamKind.JSON_RESPONSE,
                "s1",
                RpcMessage(MessageKind.RESPONSE, answer, id=n),
            )
        )
        writer.handle(ExchangeClosed(n, t + 0.002, "complete"))
        t += 0.01
    writer.close()


URL = re.compile(r"web view at (http://127\.0\.0\.1:\d+/\?token=\S+)")


def api(url: str, path: str) -> Any:
    """GET `path` of the page at `url` (which carries the token), as JSON."""
    base, token = url.split("/?token=")
    with urllib.request.urlopen(f"{base}/{path}?token={token}", timeout=10) as response:
        return json.loads(response.read())


def listed(url: str) -> list[tuple[str, str]]:
    """(method, tool) of each call the page lists."""
    return [(r["method"], r["tool"]) for r in api(url, "api/calls")["rows"]]


def wait_for_url(errlog: Path, deadline: float) -> str:
    """The page's URL once the command printed it to `errlog`."""
    while time.monotonic() < deadline:
        found = URL.search(errlog.read_text() if errlog.exists() else "")
        if found:
            return found.group(1)
        time.sleep(0.05)
    raise TimeoutError(f"no web view URL in {errlog}")
