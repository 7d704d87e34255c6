"""The benchmark's client side: raw MCP 2026-07-28 requests over a pooled httpx2 client.

The envelope is what a default `mcp.Client` (mcp 2.3, protocol 2026-07-28) sends, checked
against a recording of one made through `mcp-tap proxy --record --no-redact`:

    POST /mcp
    content-type: application/json
    accept: application/json, text/event-stream
    mcp-protocol-version: 2026-07-28
    mcp-method: tools/list               (tools/call also sends mcp-name: <tool>)
    {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {"_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "mcp", "version": "0.1.0"},
        "io.modelcontextprotocol/clientCapabilities": {}}}}
                                         (tools/call adds "progressToken": <id> to _meta)

A raw client keeps the client's own cost per request and per event small and identical for
the direct and the proxied runs, so the difference between them is the proxy's.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx2

PROTOCOL_VERSION = "2026-07-28"
CLIENT_INFO = {"name": "mcp", "version": "0.1.0"}
PROGRESS = b'"notifications/progress"'


def client(connections: int = 10, read_timeout: float = 120.0) -> httpx2.AsyncClient:
    """A pooled keep-alive client; no environment proxies (loopback only)."""
    return httpx2.AsyncClient(
        timeout=httpx2.Timeout(10.0, read=read_timeout),
        limits=httpx2.Limits(max_connections=connections, max_keepalive_connections=connections),
        trust_env=False,
    )


def request_body(
    request_id: int, method: str, params: dict[str, Any] | None = None, progress: bool = False
) -> bytes:
    meta: dict[str, Any] = {
        "io.modelcontextprotocol/protocolVersion": PROTOCOL_VERSION,
        "io.modelcontextprotocol/clientInfo": CLIENT_INFO,
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    if progress:
        meta["progressToken"] = request_id
    body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": {**(params or {})}}
    body["params"]["_meta"] = meta
    return json.dumps(body, separators=(",", ":")).encode()


def request_headers(method: str, name: str | None = None) -> dict[str, str]:
    headers = {
        "content-type": "application/json",
        "accept": "application/json, text/event-stream",
        "mcp-protocol-version": PROTOCOL_VERSION,
        "mcp-method": method,
    }
    if name is not None:
        headers["mcp-name"] = name
    return headers


TOOLS_LIST_HEADERS = request_headers("tools/list")


class BenchError(Exception):
    """The server (or the proxy) answered something other than what the benchmark expects."""


async def tools_list(http: httpx2.AsyncClient, url: str, request_id: int) -> float:
    """One tools/list round trip; returns its seconds; raises unless the answer is a result."""
    body = request_body(request_id, "tools/list")
    started = time.perf_counter()
    response = await http.post(url, content=body, headers=TOOLS_LIST_HEADERS)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise BenchError(f"tools/list: HTTP {response.status_code}: {response.text[:200]}")
    answer = response.json()
    result = answer.get("result") if isinstance(answer, dict) else None
    if answer.get("id") != request_id or not isinstance(result, dict) or not result.get("tools"):
        raise BenchError(f"tools/list: not a result: {response.text[:200]}")
    return elapsed


class EventSplitter:
    """Split an SSE byte stream into event blocks (blank-line separated, LF or CRLF)."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        buffer = self._buffer + chunk
        events = []
        start = 0
        while True:
            lf = buffer.find(b"\n\n", start)
            crlf = buffer.find(b"\n\r\n", start)
            if lf < 0 and crlf < 0:
                break
            if crlf < 0 or (0 <= lf < crlf):
                events.append(buffer[start:lf])
                start = lf + 2
            else:
                events.append(buffer[start:crlf])
                start = crlf + 3
        self._buffer = buffer[start:]
        return events


def event_data(block: bytes) -> bytes:
    """The `data:` of an SSE event block (multi-line data joined with LF)."""
    parts = []
    for line in block.splitlines():
        if line.startswith(b"data:"):
            value = line[5:]
            parts.append(value[1:] if value.startswith(b" ") else value)
    return b"\n".join(parts)


@dataclass
class StreamResult:
    """What one streamed tools/call delivered."""

    seconds: float = 0.0
    progress: int = 0
    result: dict[str, Any] | None = None
    arrivals: list[tuple[float, bytes]] = field(default_factory=list)  # when `keep` is set


async def stream_call(
    http: httpx2.AsyncClient,
    url: str,
    request_id: int,
    tool: str,
    arguments: dict[str, Any],
    keep: bool = False,
) -> StreamResult:
    """One tools/call answered on an SSE stream: counts progress, returns the final result.

    With `keep`, each progress event's data is kept with `time.monotonic()` of the chunk
    that completed it (taken before any parsing).
    """
    body = request_body(request_id, "tools/call", {"name": tool, "arguments": arguments}, True)
    headers = request_headers("tools/call", tool)
    out = StreamResult()
    splitter = EventSplitter()
    started = time.perf_counter()
    async with http.stream("POST", url, content=body, headers=headers) as response:
        if response.status_code != 200:
            text = (await response.aread())[:200]
            raise BenchError(f"tools/call {tool}: HTTP {response.status_code}: {text!r}")
        async for chunk in response.aiter_raw():
            arrived = time.monotonic()
            for block in splitter.feed(chunk):
                if PROGRESS in block:
                    out.progress += 1
                    if keep:
                        out.arrivals.append((arrived, event_data(block)))
                    continue
                data = event_data(block)
                if not data:
                    continue  # a priming event or a comment
                message = json.loads(data)
                if message.get("id") == request_id:
                    if "result" not in message:
                        raise BenchError(f"tools/call {tool}: not a result: {data[:200]!r}")
                    out.result = message["result"]
    out.seconds = time.perf_counter() - started
    if out.result is None:
        raise BenchError(f"tools/call {tool}: the stream ended without the result")
    return out


def result_text(result: dict[str, Any] | None) -> str:
    content = (result or {}).get("content") or []
    return "".join(block.get("text", "") for block in content if isinstance(block, dict))


async def stream_progress(
    http: httpx2.AsyncClient, url: str, request_id: int, count: int, interval: float = 0.0
) -> StreamResult:
    """The demo server's `stream_progress`; raises unless all `count` events and the result came."""
    out = await stream_call(
        http, url, request_id, "stream_progress", {"count": count, "interval": interval}
    )
    expected = f"Sent {count} progress notifications"
    if out.progress != count or result_text(out.result) != expected:
        raise BenchError(
            f"stream_progress({count}): got {out.progress} progress events and "
            f"{result_text(out.result)!r}"
        )
    return out
