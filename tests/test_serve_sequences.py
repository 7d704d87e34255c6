"""Sequences: a call served after state-changing ones gets what was recorded after them, and
each client session gets the recorded sequence from its start."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.types import TextContent

from mcp_tap.serve import serving_recording
from tests.procs import ROOT, running, tap_proxy
from tests.test_serve_asks import SERVER

pytestmark = pytest.mark.timeout(120)
RECORDED_CALLS = ["get", "increment", "get", "increment", "get"]  # answered 0 1 1 2 2


async def counter_calls(url: str, tools: list[str]) -> list[str]:
    """Call each tool in turn; the texts of their results."""
    texts = []
    with anyio.fail_after(60):
        async with Client(url) as client:
            for name in tools:
                texts.append(await call(client, name))
    return texts


async def call(client: Client, name: str) -> str:
    content = (await client.call_tool(name, {})).content[0]
    assert isinstance(content, TextContent)
    return content.text


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The asking server's counter, recorded through the proxy: get, increment, get, ..."""
    recording = tmp_path_factory.mktemp("sequences") / "counter.yaml"
    with running([*SERVER], cwd=ROOT) as server:
        url = server.wait_for_line(r"(http://\S+/mcp)").group(1)
        with tap_proxy(url, ROOT, "--record", str(recording), "-q") as (proxy_url, proxy):
            assert anyio.run(counter_calls, proxy_url, RECORDED_CALLS) == list("01122")
            proxy.stop()
    yield recording


def test_increment_then_get_is_served_in_recorded_order(recording: Path) -> None:
    args = [sys.executable, "-m", "mcp_tap", "serve", str(recording), "--port", "0", "-q"]
    with running([*args, "--fast"], cwd=ROOT) as mock:
        mock_url = mock.wait_for_line(r"point your client at (\S+)").group(1)
        # Two increments, then get: the get recorded after the second increment.
        assert anyio.run(counter_calls, mock_url, ["increment", "increment", "get"]) == list("122")


def handshake(url: str) -> Any:
    """A handshake client (its own Mcp-Session-Id)."""
    return Client(url, mode="legacy")


def test_each_session_gets_the_sequence_from_its_start(recording: Path) -> None:
    calls = ["get", "increment", "get"]

    async def main() -> tuple[list[str], ...]:
        with anyio.fail_after(60):
            async with serving_recording(recording, fast=True) as mock:
                one_after_another = []
                for _ in range(2):
                    async with handshake(mock.url) as client:
                        one_after_another.append([await call(client, n) for n in calls])
                interleaved: tuple[list[str], list[str]] = ([], [])
                async with handshake(mock.url) as a, handshake(mock.url) as b:
                    for name in calls:
                        interleaved[0].append(await call(a, name))
                        interleaved[1].append(await call(b, name))
                # The first client's next calls go on from where it was.
                async with handshake(mock.url) as c:
                    on = [await call(c, n) for n in [*calls, "increment", "get"]]
        return (*one_after_another, *interleaved, on)

    first, second, a, b, on = anyio.run(main)
    assert first == second == a == b == list("011")
    assert on == list("01122")


def test_each_2024_11_05_stream_is_a_session_of_its_own(recording: Path) -> None:
    """The 2024-11-05 transport's clients, interleaved on one mock: each stream its own place."""
    calls = ["get", "increment", "get"]

    async def main() -> tuple[list[str], list[str]]:
        with anyio.fail_after(60):
            async with serving_recording(recording, fast=True) as mock:
                sse = mock.url.removesuffix("/mcp") + "/sse"
                answers: tuple[list[str], list[str]] = ([], [])
                async with Client(sse_client(sse)) as a, Client(sse_client(sse)) as b:
                    for name in calls:
                        answers[0].append(await call(a, name))
                        answers[1].append(await call(b, name))
        return answers

    assert anyio.run(main) == (list("011"), list("011"))


def test_stateless_requests_share_the_mocks_sequence(recording: Path) -> None:
    """2026-07-28 requests name no session: they go on from the calls before them, as a real
    server's state does for every client."""

    async def main() -> list[list[str]]:
        with anyio.fail_after(60):
            async with serving_recording(recording, fast=True) as mock:
                first = await counter_calls(mock.url, ["get", "increment"])
                second = await counter_calls(mock.url, ["get"])
        return [first, second]

    assert anyio.run(main) == [list("01"), list("1")]
