"""Real SDK clients, in their own processes, through a real `mcp-tap proxy` process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.procs import demo_server, py_client, tap_proxy, ts_client

STEP = 0.2  # seconds between the demo server's progress steps
SIZE_MB = 5
ARGS = {"filename": "report.pdf", "size_mb": SIZE_MB, "step_delay": STEP}

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A demo server and a proxy in front of it; yields (proxy /mcp URL, proxy /sse URL)."""
    cwd: Path = tmp_path_factory.mktemp("proxy")
    with demo_server(step_delay=STEP) as base:
        with tap_proxy(base + "/mcp", cwd, "--no-record") as (url, _proc):
            yield url, url.removesuffix("/mcp") + "/sse"


def assert_streamed_download(events: list[dict], protocol_version: str) -> None:
    """All progress arrived in order, the first long before the result; the result is right."""
    progress = [e for e in events if e["event"] == "progress"]
    (result,) = [e for e in events if e["event"] == "result"]
    assert [p["progress"] for p in progress] == [1, 2, 3, 4, 5]
    assert {p["total"] for p in progress} == {SIZE_MB}
    assert progress[0]["message"] == f"report.pdf: 1/{SIZE_MB} MB"
    assert result["text"] == f"Downloaded report.pdf ({SIZE_MB} MB)"
    assert not result["is_error"]
    assert result["protocol_version"] == protocol_version
    # Streaming, not buffering: the first update reached the client ~4 steps before the result.
    assert result["t"] - progress[0]["t"] > 2 * STEP
    times = [p["t"] for p in progress]
    assert times == sorted(times)


@pytest.mark.parametrize(
    ("transport", "protocol_version"),
    [("auto", "2026-07-28"), ("legacy", "2025-11-25")],
)
def test_python_client_streamable_http(proxied, transport: str, protocol_version: str) -> None:
    mcp_url, _ = proxied
    events = py_client(mcp_url, transport, "download_file", ARGS)
    assert_streamed_download(events, protocol_version)


def test_python_client_legacy_sse_transport(proxied) -> None:
    _, sse_url = proxied
    events = py_client(sse_url, "sse", "download_file", ARGS)
    assert_streamed_download(events, "2025-11-25")


@pytest.mark.usefixtures("typescript_client")
def test_typescript_client_streamable_http(proxied) -> None:
    mcp_url, _ = proxied
    assert_streamed_download(ts_client(mcp_url, "download_file", ARGS), "2025-11-25")


@pytest.mark.usefixtures("typescript_client")
def test_typescript_client_legacy_sse_transport(proxied) -> None:
    _, sse_url = proxied
    assert_streamed_download(ts_client(sse_url, "download_file", ARGS, sse=True), "2025-11-25")
