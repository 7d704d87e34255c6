"""`mcp-tap serve --stdio`: a recording stands in for a stdio server, for hosts and SDK clients."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from mcp_tap.protocol.events import Direction, MessageSeen
from mcp_tap.recording.reader import load_recording
from tests.procs import ROOT

pytestmark = pytest.mark.timeout(90)
SAMPLE = ROOT / "recordings" / "download_file-handshake.yaml"
RECORDED = {"filename": "report.pdf", "size_mb": 5, "step_delay": 0.05}


async def call_download(args: list[str], arguments: dict[str, Any]) -> tuple[list[Any], Any]:
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total, message))

    params = StdioServerParameters(command=sys.executable, args=args, cwd=str(ROOT))
    with anyio.fail_after(60):
        async with Client(params) as client:
            result = await client.call_tool(
                "download_file", arguments, progress_callback=on_progress
            )
    return progress, result


def test_the_mcp_stdio_client_gets_the_recorded_result_and_progress(tmp_path: Path) -> None:
    record = tmp_path / "mock.yaml"
    args = ["-m", "mcp_tap", "serve", "--stdio", str(SAMPLE), "--record", str(record)]
    progress, result = anyio.run(call_download, args, RECORDED)
    assert result.content[0].text == "Downloaded report.pdf (5 MB)"
    seen = [value for value, _, _ in progress]
    assert seen == sorted(set(seen)) and set(seen) <= {1, 2, 3, 4, 5}  # what the SDK passed on
    # What mcp-tap controls: every recorded notification went out, in order, before the result.
    sent = [
        e.message.payload
        for e in load_recording(record).events
        if isinstance(e, MessageSeen) and e.direction is Direction.SERVER_TO_CLIENT
    ]
    answer = next(i for i, m in enumerate(sent) if "Downloaded" in str(m.get("result")))
    progress_sent = [m for m in sent if m.get("method") == "notifications/progress"]
    assert [m["params"]["progress"] for m in progress_sent] == [1, 2, 3, 4, 5]
    assert all(sent.index(m) < answer for m in progress_sent)


def messages_of(error: BaseException) -> str:
    """Every message in an exception and the ones it groups (the SDK raises a group)."""
    inner = getattr(error, "exceptions", ())
    return " | ".join([str(error), *(messages_of(e) for e in inner)])


def test_a_changed_argument_gets_the_field_by_field_miss() -> None:
    args = ["-m", "mcp_tap", "serve", "--stdio", "--fast", str(SAMPLE)]
    with pytest.raises(BaseException) as raised:
        anyio.run(call_download, args, {**RECORDED, "size_mb": 6})
    assert "params.arguments.size_mb: recorded 5, received 6" in messages_of(raised.value)


def test_strict_exits_1_and_lists_the_miss_on_stderr() -> None:
    request = (
        b'{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"nope","arguments":{}}}\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "mcp_tap", "serve", "--stdio", "--strict", str(SAMPLE)],
        input=request,
        capture_output=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 1
    assert b'"id":7' in done.stdout and b"-32050" in done.stdout
    assert done.stdout.count(b"\n") == 1  # stdout carries protocol lines only
    assert b"1 missed" in done.stderr and b"unused: tools/call download_file" in done.stderr
