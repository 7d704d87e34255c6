"""`serving_recording` from Python, watched through its own tap: tokens, cancellation, Accept."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from typing import Any
from urllib.parse import urlsplit

import pytest
from mcp import Client

from mcp_tap.protocol.events import (
    Direction,
    ExchangeClosed,
    MessageKind,
    MessageSeen,
    TapEvent,
)
from mcp_tap.serve import serving_recording
from mcp_tap.tap.bus import TapBus
from tests.procs import ROOT

pytestmark = pytest.mark.timeout(60)

STATELESS = ROOT / "recordings" / "download_file-2026-07-28.yaml"
HANDSHAKE = ROOT / "recordings" / "download_file-handshake.yaml"
ARGS = {"filename": "report.pdf", "size_mb": 5, "step_delay": 0.05}


class Events:
    """A bus subscriber that keeps every event."""

    def __init__(self) -> None:
        self.events: list[TapEvent] = []

    def handle(self, event: TapEvent) -> None:
        self.events.append(event)

    def close(self) -> None:
        pass

    def messages(self, exchange_id: int | None = None) -> list[MessageSeen]:
        return [
            e
            for e in self.events
            if isinstance(e, MessageSeen) and exchange_id in (None, e.exchange_id)
        ]


def run(coroutine: Coroutine[Any, Any, None], seconds: float = 30) -> None:
    async def bounded() -> None:
        async with asyncio.timeout(seconds):
            await coroutine

    asyncio.run(bounded())


def test_two_concurrent_clients_each_get_progress_with_their_own_token() -> None:
    seen = Events()

    async def main() -> None:
        async with serving_recording(HANDSHAKE, bus=TapBus([seen])) as mock:
            got: dict[str, list[float]] = {"a": [], "b": []}

            async def one(name: str, mode: str) -> str:
                async def on_progress(value: float, total: float | None, text: str | None) -> None:
                    got[name].append(value)

                kwargs: dict[str, Any] = {"mode": "legacy"} if mode == "legacy" else {}
                async with Client(mock.url, **kwargs) as client:
                    result = await client.call_tool(
                        "download_file", ARGS, progress_callback=on_progress
                    )
                    return str(result.content[0].text)  # type: ignore[union-attr]

            texts = await asyncio.gather(one("a", "legacy"), one("b", "auto"))
            assert texts == ["Downloaded report.pdf (5 MB)"] * 2
            assert got == {"a": [1, 2, 3, 4, 5], "b": [1, 2, 3, 4, 5]}
            assert not mock.report.misses

    run(main())
    calls = [
        m
        for m in seen.messages()
        if m.direction is Direction.CLIENT_TO_SERVER and m.message.method == "tools/call"
    ]
    assert len(calls) == 2
    for call in calls:
        sent = seen.messages(call.exchange_id)[1:]
        progress = [m for m in sent if m.message.method == "notifications/progress"]
        assert [p.message.payload["params"]["progressToken"] for p in progress] == [
            call.message.progress_token
        ] * 5
        assert sent[-1].message.kind is MessageKind.RESPONSE
        assert sent[-1].message.id == call.message.id  # the client's id, not the recorded one


def test_a_client_without_a_progress_token_gets_no_progress() -> None:
    seen = Events()

    async def main() -> None:
        async with serving_recording(STATELESS, fast=True, bus=TapBus([seen])) as mock:
            async with Client(mock.url) as client:
                result = await client.call_tool("download_file", ARGS)
            assert not result.is_error

    run(main())
    methods = [m.message.method for m in seen.messages()]
    assert "tools/call" in methods and "notifications/progress" not in methods


async def raw_post(url: str, body: dict[str, Any], accept: str) -> tuple[asyncio.StreamReader, Any]:
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    data = json.dumps(body).encode()
    writer.write(
        f"POST {parts.path} HTTP/1.1\r\nhost: {parts.netloc}\r\naccept: {accept}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(data)}\r\n\r\n".encode()
        + data
    )
    await writer.drain()
    return reader, writer


def stateless_call(request_id: int, token: int | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}
    if token is not None:
        meta["progressToken"] = token
    params = {"name": "download_file", "arguments": ARGS, "_meta": meta}
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


def test_a_client_that_leaves_stops_its_stream() -> None:
    seen = Events()

    async def main() -> None:
        # At a tenth of the recorded speed the five notifications would take ~2 s.
        async with serving_recording(STATELESS, speed=0.1, bus=TapBus([seen])) as mock:
            reader, writer = await raw_post(
                mock.url, stateless_call(41, 41), "application/json, text/event-stream"
            )
            head = await reader.readuntil(b"\r\n\r\n")
            assert b"text/event-stream" in head
            writer.close()
            await asyncio.sleep(1.5)

    run(main())
    closed = [e for e in seen.events if isinstance(e, ExchangeClosed)]
    assert [c.reason for c in closed] == ["client-disconnected"]
    progress = [m for m in seen.messages() if m.message.method == "notifications/progress"]
    assert len(progress) < 5
    assert not [m for m in seen.messages() if m.message.kind is MessageKind.RESPONSE]


def test_a_json_only_client_gets_json_with_its_id() -> None:
    async def main() -> None:
        async with serving_recording(STATELESS, fast=True) as mock:
            reader, writer = await raw_post(mock.url, stateless_call(77, 77), "application/json")
            head = await reader.readuntil(b"\r\n\r\n")
            assert b"content-type: application/json" in head
            length = int(head.split(b"content-length: ")[1].split(b"\r\n")[0])
            body = json.loads(await reader.readexactly(length))
            writer.close()
            assert body["id"] == 77
            assert body["result"]["content"][0]["text"] == "Downloaded report.pdf (5 MB)"
            assert [i.method for i in mock.report.unused] == ["tools/list"]

    run(main())
