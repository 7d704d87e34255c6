"""Spy mode with a stdio server: `serve --command CMD` answers what the recording holds and
forwards the rest to CMD, which mcp-tap starts at the first miss and stops with itself.

The server is the demo server over stdio, behind `counting_stdio_demo.py`, which copies all
it reads to a file: a recorded call never reaches it, a miss does, once."""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.shared.exceptions import MCPError

from mcp_tap.serve import serving_recording
from tests.procs import ROOT, running
from tests.test_serve_spy import (
    HANDSHAKE,
    RECORDED,
    STATELESS,
    UNRECORDED,
    calls_in,
    run,
    texts_and_progress,
)

pytestmark = pytest.mark.timeout(90)
COUNTING = ROOT / "tests" / "counting_stdio_demo.py"


def counting_server(folder: Path) -> list[str]:
    return [sys.executable, str(COUNTING), str(folder / "server-read.log"), str(folder / "pid")]


def received(folder: Path) -> list[dict[str, Any]]:
    """What the server read, message by message."""
    log = folder / "server-read.log"
    lines = log.read_text().splitlines() if log.exists() else []
    return [json.loads(line) for line in lines if line.strip()]


def gone(pid: int, seconds: float = 10.0) -> bool:
    """The process has ended (a zombie nobody reaped yet counts as ended)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def test_serve_stdio_forwards_a_miss_to_the_command_and_appends_it(tmp_path: Path) -> None:
    path = tmp_path / HANDSHAKE.name
    shutil.copy(HANDSHAKE, path)
    command = " ".join(counting_server(tmp_path))
    args = ["-m", "mcp_tap", "serve", "--stdio", "--fast", str(path), "--command", command]
    params = StdioServerParameters(
        command=sys.executable, args=[*args, "--record-misses"], cwd=str(ROOT)
    )
    texts: list[str] = []

    async def main() -> None:
        with anyio.fail_after(60):
            async with Client(params) as client:
                for arguments in (RECORDED, UNRECORDED, UNRECORDED):
                    result = await client.call_tool("download_file", arguments)
                    texts.append(str(result.content[0].text))  # type: ignore[union-attr]

    anyio.run(main)
    assert texts == [
        "Downloaded report.pdf (5 MB)",  # from the recording
        "Downloaded notes.txt (2 MB)",  # from the server
        "Downloaded notes.txt (2 MB)",  # learnt: from the recording again
    ]
    seen = received(tmp_path)
    assert [m.get("method") for m in seen] == [
        "initialize",  # the server's own handshake, with the recorded initialize
        "notifications/initialized",
        "tools/call",  # the one miss, and nothing else
    ]
    assert seen[2]["params"]["arguments"] == UNRECORDED
    assert calls_in(path) == [RECORDED, UNRECORDED]  # appended to the first recording
    assert gone(int((tmp_path / "pid").read_text()))  # stopped with mcp-tap


def test_serve_over_http_forwards_to_the_command(tmp_path: Path) -> None:
    path = tmp_path / STATELESS.name
    shutil.copy(STATELESS, path)
    before = path.read_text()

    async def main() -> None:
        async with serving_recording(path, fast=True, command=counting_server(tmp_path)) as mock:
            texts, progress = await texts_and_progress(mock.url, "auto", [RECORDED, UNRECORDED])
            assert texts == ["Downloaded report.pdf (5 MB)", "Downloaded notes.txt (2 MB)"]
            assert progress == [[1, 2, 3, 4, 5], [1, 2]]  # the server's progress, passed on
        assert mock.report.forwarded == ["tools/call"] and not mock.report.misses

    run(main())
    # A 2026-07-28 request needs no handshake: the server read the miss alone.
    assert [m["params"]["arguments"] for m in received(tmp_path)] == [UNRECORDED]
    assert path.read_text() == before  # no --record-misses: left alone
    assert gone(int((tmp_path / "pid").read_text()))


SECRET = "tok-5e1f0c7a9b2d"  # a --token value: never shown


def test_a_command_that_cannot_start_gets_the_miss_error_saying_why(tmp_path: Path) -> None:
    async def main() -> None:
        async with serving_recording(
            STATELESS, fast=True, command=[str(tmp_path / "no-such-server"), "--token", SECRET]
        ) as mock:
            async with Client(mock.url) as client:
                with pytest.raises(MCPError, match="cannot start .*no-such-server") as raised:
                    await client.call_tool("download_file", UNRECORDED)
        assert SECRET not in str(raised.value)  # the command line is shown redacted
        assert len(mock.report.misses) == 1
        assert "cannot start" in mock.report.misses[0].message
        assert "no-such-server" in mock.report.misses[0].message
        assert SECRET not in mock.report.misses[0].message

    run(main())


def test_the_command_line_is_shown_without_its_secret() -> None:
    command = f"{sys.executable} -m no_such_module --token {SECRET}"
    args = [sys.executable, "-m", "mcp_tap", "serve", str(STATELESS), "--port", "0"]
    with running([*args, "--command", command], cwd=ROOT) as mock:
        banner = mock.wait_for_line(r"forwarding misses to .*").group(0)
        mock.stop()
    assert "--token" in banner and SECRET not in banner
