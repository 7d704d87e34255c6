"""`--fault` on the mock: `serving_recording(faults=...)` with the `mcp` Python client, raw
HTTP where the client would hide what it got, and `serve --stdio` with a host's client.

What the tap saw is read off the mock's own bus: every injected fault is a `fault-injected`
event, and an injected answer is never a message of the mock's.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

from mcp_tap.analysis.tracker import ProgressTracker
from mcp_tap.faults import RuleError
from mcp_tap.protocol.events import (
    Direction,
    FaultInjected,
    MessageKind,
    MessageSeen,
    TapEvent,
)
from mcp_tap.recording.reader import load_recording
from mcp_tap.serve import serving_recording
from mcp_tap.tap.bus import TapBus
from tests.procs import ROOT

pytestmark = pytest.mark.timeout(60)

HANDSHAKE = ROOT / "recordings" / "download_file-handshake.yaml"
ARGS = {"filename": "report.pdf", "size_mb": 5, "step_delay": 0.05}
DONE = "Downloaded report.pdf (5 MB)"


class Events:
    """A bus subscriber that keeps every event."""

    def __init__(self) -> None:
        self.events: list[TapEvent] = []

    def handle(self, event: TapEvent) -> None:
        self.events.append(event)

    def close(self) -> None:
        pass

    def injected(self) -> list[FaultInjected]:
        return [e for e in self.events if isinstance(e, FaultInjected)]

    def from_mock(self) -> list[MessageSeen]:
        return [
            e
            for e in self.events
            if isinstance(e, MessageSeen) and e.direction is Direction.SERVER_TO_CLIENT
        ]


def run(coroutine: Coroutine[Any, Any, None], seconds: float = 30) -> None:
    async def bounded() -> None:
        async with asyncio.timeout(seconds):
            await coroutine

    asyncio.run(bounded())


async def download(url: str, progress: list[float], read_timeout: float | None = None) -> str:
    async def on_progress(value: float, total: float | None, text: str | None) -> None:
        progress.append(value)

    async with Client(url, mode="legacy", read_timeout_seconds=read_timeout) as client:
        result = await client.call_tool("download_file", ARGS, progress_callback=on_progress)
        return str(result.content[0].text)  # type: ignore[union-attr]


def test_injected_error_for_one_tool_while_others_answer() -> None:
    seen = Events()
    tracker_events: list[TapEvent] = []
    tracker = ProgressTracker(tracker_events.append)

    async def main() -> None:
        rule = 'error tool=download_file code=-32001 message="download is down"'
        bus = TapBus([seen, tracker])
        async with serving_recording(HANDSHAKE, fast=True, faults=[rule], bus=bus) as mock:
            async with Client(mock.url, mode="legacy") as client:
                tools = await client.list_tools()  # answered from the recording
                assert "download_file" in [t.name for t in tools.tools]
                with pytest.raises(MCPError, match="download is down") as raised:
                    await client.call_tool("download_file", ARGS)
                assert raised.value.error.code == -32001
        bus.close()

    run(main())
    (fault,) = seen.injected()
    assert fault.action == "error" and fault.direction is Direction.CLIENT_TO_SERVER
    # the injected answer is not the mock's message: only the fault event stands for it
    assert not [m for m in seen.from_mock() if m.message.kind is MessageKind.ERROR]
    # and the tracker does not count the call as still waiting
    assert not [r for r in tracker.unanswered() if r.method == "tools/call"]
    assert tracker.errors["tools/call"] == 1


def test_429_with_retry_after_then_success() -> None:
    async def main() -> None:
        rule = "status 429 retry-after=1 method=tools/call times=1"
        async with serving_recording(HANDSHAKE, fast=True, faults=rule) as mock:
            async with Client(mock.url, mode="legacy") as client:
                with pytest.raises(MCPError):
                    await client.call_tool("download_file", ARGS)
                result = await client.call_tool("download_file", ARGS)
                assert result.content[0].text == DONE  # type: ignore[union-attr]

    run(main())


def test_hang_ends_in_the_clients_own_timeout() -> None:
    seen = Events()

    async def main() -> None:
        async with serving_recording(
            HANDSHAKE, fast=True, faults=["hang tool=download_file"], bus=TapBus([seen])
        ) as mock:
            async with Client(mock.url, mode="legacy", read_timeout_seconds=0.5) as client:
                with pytest.raises(MCPError, match="timed out"):
                    await client.call_tool("download_file", ARGS)
                await client.list_tools()  # the session itself is still fine

    run(main())
    assert [f.action for f in seen.injected()] == ["hang"]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("swallow method=notifications/progress nth=2", [1, 3, 4, 5]),
        ("duplicate method=notifications/progress nth=2", [1, 2, 2, 3, 4, 5]),
        ("delay 50ms direction=server method=notifications/progress nth=3", [1, 2, 3, 4, 5]),
    ],
)
def test_progress_notification_swallowed_duplicated_or_delayed(
    rule: str, expected: list[float]
) -> None:
    seen = Events()
    progress: list[float] = []

    async def main() -> None:
        async with serving_recording(HANDSHAKE, faults=[rule], bus=TapBus([seen])) as mock:
            assert await download(mock.url, progress) == DONE

    run(main())
    assert progress == expected  # what the client saw
    (fault,) = seen.injected()
    assert fault.rule == rule and fault.direction is Direction.SERVER_TO_CLIENT
    # what the tap recorded is what left: the same progress, in the same order
    sent = [
        m.message.payload["params"]["progress"]
        for m in seen.from_mock()
        if m.message.method == "notifications/progress"
    ]
    assert sent == expected


async def _post(url: str, body: dict[str, Any], session: str | None = None) -> str:
    """One POST over a plain socket, read until the mock closes it: the answer as it came."""
    parts = urlsplit(url)
    data = json.dumps(body).encode()
    head = (
        f"POST {parts.path} HTTP/1.1\r\nhost: {parts.netloc}\r\nconnection: close\r\n"
        "content-type: application/json\r\naccept: application/json, text/event-stream\r\n"
        f"content-length: {len(data)}\r\n"
    )
    if session is not None:
        head += f"mcp-session-id: {session}\r\n"
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(head.encode() + b"\r\n" + data)
    answer = await asyncio.wait_for(reader.read(-1), 10)
    writer.close()
    return answer.decode()


async def _raw_call(url: str) -> str:
    """A tools/call over plain HTTP after the handshake: the SSE text as it came."""
    init = {
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "raw", "version": "0"}},
    }  # fmt: skip
    answer = await _post(url, init)
    session = re.search(r"(?im)^mcp-session-id: (\S+)", answer)
    assert session is not None
    call = {
        "jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "download_file", "arguments": ARGS, "_meta": {"progressToken": 7}},
    }  # fmt: skip
    return await _post(url, call, session.group(1))


@pytest.mark.parametrize("kind", ["truncate", "corrupt"])
def test_progress_notification_truncated_or_corrupted(kind: str) -> None:
    seen = Events()
    texts: list[str] = []

    async def main() -> None:
        rule = f"{kind} method=notifications/progress nth=2"
        async with serving_recording(HANDSHAKE, fast=True, faults=rule, bus=TapBus([seen])) as m:
            texts.append(await _raw_call(m.url))

    run(main())
    data = [line[6:] for line in texts[0].splitlines() if line.startswith("data: ")]
    assert len(data) == 6  # five progress notifications and the response
    broken = []
    for text in data:
        try:
            json.loads(text)
        except ValueError:
            broken.append(text)
    assert len(broken) == 1
    # the recording holds what the client got: one message that is not JSON
    invalid = [m for m in seen.from_mock() if m.message.kind is MessageKind.INVALID]
    assert len(invalid) == 1
    assert [f.action for f in seen.injected()] == [kind]


def test_drop_stream_after_two_progress_ends_without_the_response() -> None:
    seen = Events()
    texts: list[str] = []

    async def main() -> None:
        rule = "drop-stream tool=download_file after-progress=2"
        async with serving_recording(HANDSHAKE, fast=True, faults=rule, bus=TapBus([seen])) as m:
            texts.append(await _raw_call(m.url))

    run(main())
    data = [json.loads(line[6:]) for line in texts[0].splitlines() if line.startswith("data: ")]
    assert [d["params"]["progress"] for d in data] == [1, 2]  # and no response
    assert [f.action for f in seen.injected()] == ["drop-stream"]


def test_a_bad_rule_from_python_raises_rule_error() -> None:
    async def main() -> None:
        async with serving_recording(HANDSHAKE, faults=["kill tool=x"]):
            pass

    with pytest.raises(RuleError, match="kill is for stdio"):
        run(main())


def test_stdio_mock_closes_its_stdout_mid_call(tmp_path: Path) -> None:
    record = tmp_path / "mock.yaml"
    rule = "close-stdout tool=download_file after-progress=2"
    progress: list[float] = []

    async def main() -> None:
        params = StdioServerParameters(
            command=sys.executable,
            args=[
                "-m",
                "mcp_tap",
                "serve",
                "--stdio",
                "--fast",
                "--fault",
                rule,
                "--record",
                str(record),
                str(HANDSHAKE),
            ],  # fmt: skip
        )

        async def on_progress(value: float, total: float | None, text: str | None) -> None:
            progress.append(value)

        async with Client(params, read_timeout_seconds=20) as client:
            with pytest.raises(MCPError):
                await client.call_tool("download_file", ARGS, progress_callback=on_progress)

    run(main(), 45)
    assert progress == [1, 2]  # then the host read the end of the server's stdout
    events = load_recording(record).events
    (fault,) = [e for e in events if isinstance(e, FaultInjected)]
    assert fault.action == "close-stdout"
