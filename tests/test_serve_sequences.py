"""Sequences: a call served after state-changing ones gets what was recorded after them."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp.types import TextContent

from tests.procs import ROOT, running, tap_proxy
from tests.test_serve_asks import SERVER

pytestmark = pytest.mark.timeout(120)


async def counter_calls(url: str, tools: list[str]) -> list[str]:
    """Call each tool in turn; the texts of their results."""
    texts = []
    with anyio.fail_after(60):
        async with Client(url) as client:
            for name in tools:
                content = (await client.call_tool(name, {})).content[0]
                assert isinstance(content, TextContent)
                texts.append(content.text)
    return texts


def test_increment_then_get_is_served_in_recorded_order(tmp_path: Path) -> None:
    recording = tmp_path / "counter.yaml"
    recorded_calls = ["get", "increment", "get", "increment", "get"]
    with running([*SERVER], cwd=ROOT) as server:
        url = server.wait_for_line(r"(http://\S+/mcp)").group(1)
        with tap_proxy(url, ROOT, "--record", str(recording), "-q") as (proxy_url, proxy):
            assert anyio.run(counter_calls, proxy_url, recorded_calls) == list("01122")
            proxy.stop()
    args = [sys.executable, "-m", "mcp_tap", "serve", str(recording), "--port", "0", "-q"]
    with running([*args, "--fast"], cwd=ROOT) as mock:
        mock_url = mock.wait_for_line(r"point your client at (\S+)").group(1)
        # Two increments, then get: the get recorded after the second increment.
        assert anyio.run(counter_calls, mock_url, ["increment", "increment", "get"]) == list("122")
