"""Resend to a live stdio server: an SDK host drives `mcp-tap stdio --web` (the demo server),
a call is sent again over the page's HTTP endpoint while the host's own call runs, and the
host receives exactly the server's bytes less the resend's lines (both pipes teed to files)."""

from __future__ import annotations

import json
import shlex
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.procs import ROOT
from tests.web_helpers import api, listed, wait_for_url

pytestmark = pytest.mark.timeout(120)
MARK = b"mcp-tap-resend"  # every id and token of mcp-tap's own starts so


def post_resend(url: str, number: int, params: Any) -> Any:
    base, token = url.split("/?token=")
    request = urllib.request.Request(
        f"{base}/api/calls/{number}/resend?token={token}",
        data=json.dumps({"params": params}).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def numbers_of(url: str, tool: str) -> list[int]:
    return [r["n"] for r in api(url, "api/calls")["rows"] if r["tool"] == tool]


async def until_listed(url: str, tool: str, count: int) -> list[int]:
    deadline = time.monotonic() + 20
    found = await anyio.to_thread.run_sync(numbers_of, url, tool)
    while len(found) < count:
        assert time.monotonic() < deadline, await anyio.to_thread.run_sync(listed, url)
        await anyio.sleep(0.05)
        found = await anyio.to_thread.run_sync(numbers_of, url, tool)
    return found


async def _host_and_resend(tap: str, errlog: Path) -> dict[str, Any]:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    params = StdioServerParameters(command="sh", args=["-c", tap], cwd=str(ROOT))
    seen: dict[str, Any] = {"progress": []}

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen["progress"].append(progress)

    with anyio.fail_after(90):
        # the handshake era: the server is initialized by its client, the resend goes as is
        async with Client(params, mode="legacy") as client:
            first = {"filename": "big.iso", "size_mb": 3, "step_delay": 0.01}
            await client.call_tool("download_file", first, progress_callback=on_progress)
            url = await anyio.to_thread.run_sync(wait_for_url, errlog, time.monotonic() + 20)
            number = (await until_listed(url, "download_file", 1))[0]
            edited = (await anyio.to_thread.run_sync(api, url, f"api/calls/{number}"))["params"]
            assert "progressToken" in edited["_meta"]  # the host's token: mcp-tap sends its own
            edited["arguments"] = {"filename": "small.bin", "size_mb": 2, "step_delay": 0.01}
            async with anyio.create_task_group() as tasks:

                async def own_call() -> None:
                    slow = {"filename": "mine.iso", "size_mb": 10, "step_delay": 0.05}
                    result = await client.call_tool(
                        "download_file", slow, progress_callback=on_progress
                    )
                    seen["own"] = result.model_dump(mode="json")

                tasks.start_soon(own_call)
                await until_listed(url, "download_file", 2)  # the host's call is under way
                seen["resend"] = await anyio.to_thread.run_sync(post_resend, url, number, edited)
            seen["after"] = (await client.call_tool("download_file", first)).model_dump(mode="json")
    return seen


def test_a_call_goes_again_to_the_stdio_server_and_the_host_sees_none_of_it(
    tmp_path: Path,
) -> None:
    errlog, to_host, from_server = (tmp_path / n for n in ("err.txt", "host.bin", "server.bin"))
    server = f"{shlex.join([sys.executable, '-m', 'demo_server', '--stdio'])} | tee {from_server}"
    words = [sys.executable, "-m", "mcp_tap", "stdio", "--no-record", "--web", "--"]
    words += ["sh", "-c", server]
    tap = f"{shlex.join(words)} 2>{shlex.quote(str(errlog))} | tee {shlex.quote(str(to_host))}"
    seen = anyio.run(_host_and_resend, tap, errlog)

    resend = seen["resend"]
    assert "error" not in resend, resend
    assert resend["received"]["result"]["content"][0]["text"] == "Downloaded small.bin (2 MB)"
    assert resend["recorded"]["result"]["content"][0]["text"] == "Downloaded big.iso (3 MB)"
    assert "result.content[0].text" in [c["path"] for c in resend["changes"]]
    assert resend["progress"] == 2  # its own progress reached the page, not the host
    assert seen["own"]["content"][0]["text"] == "Downloaded mine.iso (10 MB)"
    assert seen["after"]["content"][0]["text"] == "Downloaded big.iso (3 MB)"
    assert seen["progress"] == [1, 2, 3, *range(1, 11)]  # the host's two calls' progress only

    sent = from_server.read_bytes().splitlines(keepends=True)
    mine = [line for line in sent if MARK in line]
    assert len(mine) == 3  # two progress notifications and the answer
    assert all(b"small.bin" in line for line in mine)
    # the host got every byte the server sent, in order, but those
    assert to_host.read_bytes() == b"".join(line for line in sent if MARK not in line)
    assert "Traceback" not in errlog.read_text()
