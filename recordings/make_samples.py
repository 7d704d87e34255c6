"""Regenerate the sample recordings in this directory: `uv run python recordings/make_samples.py`.

Each sample is the real mcp-tap proxy, in front of the bundled demo server (with its event
store, so handshake-era SSE events carry ids), recording one real `mcp` SDK client calling
one tool with short step delays:

* `<tool>-2026-07-28.yaml`: the default `Client(url)`, which speaks 2026-07-28 (no session);
* `<tool>-handshake.yaml`: `Client(url, mode="legacy")`, the initialize handshake (2025-11-25,
  Mcp-Session-Id, standalone GET stream, DELETE at the end);
* `sse-2024-11-05.yaml`: the 2024-11-05 HTTP+SSE transport, with the client's handshake
  pinned to protocol version 2024-11-05.

Recordings use the default redaction, as `mcp-tap proxy` writes them. Each file is written
next to its final name and moved into place, so an interrupted run leaves old samples intact.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from anywhere, without installing mcp-tap

from mcp import Client  # noqa: E402
from mcp.client.sse import sse_client  # noqa: E402

from demo_server.runner import running_demo_server  # noqa: E402
from mcp_tap.cli.proxy import running_proxy  # noqa: E402
from mcp_tap.recording.redact import RedactionRules  # noqa: E402
from mcp_tap.recording.writer import RecordingWriter  # noqa: E402
from mcp_tap.tap.bus import TapBus  # noqa: E402

STEP = 0.05  # seconds between progress steps: short samples, still visibly spaced
TOOLS: dict[str, dict[str, Any]] = {
    "download_file": {"filename": "report.pdf", "size_mb": 5, "step_delay": STEP},
    "process_data": {"records": 30, "step_delay": STEP},
    "install_package": {"name": "left-pad", "step_delay": STEP},
}
ClientFactory = Callable[[str], AbstractAsyncContextManager[Client]]


@asynccontextmanager
async def pinned_2024_11_05(url: str) -> AsyncIterator[Client]:
    """A 2024-11-05 client: HTTP+SSE transport, handshake offering version 2024-11-05."""
    import mcp.client.session as session_module

    latest = session_module.LATEST_HANDSHAKE_VERSION
    # The SDK offers its newest handshake version otherwise; it reads this name at call time.
    session_module.LATEST_HANDSHAKE_VERSION = "2024-11-05"  # type: ignore[misc]
    try:
        async with Client(sse_client(url), mode="legacy") as client:
            yield client
    finally:
        session_module.LATEST_HANDSHAKE_VERSION = latest  # type: ignore[misc]


SAMPLES: list[tuple[str, str, ClientFactory, str]] = [
    *((f"{tool}-2026-07-28", "/mcp", Client, tool) for tool in TOOLS),
    *(
        (f"{tool}-handshake", "/mcp", lambda url: Client(url, mode="legacy"), tool)
        for tool in TOOLS
    ),
    ("sse-2024-11-05", "/sse", pinned_2024_11_05, "download_file"),
]


async def record_sample(
    base_url: str, path: Path, endpoint: str, connect: ClientFactory, tool: str
) -> int:
    """Record one client session through a fresh proxy; return the progress count seen."""
    target = base_url + endpoint
    bus = TapBus()
    temporary = path.with_name(path.name + ".tmp")
    temporary.unlink(missing_ok=True)
    writer = RecordingWriter(temporary, target, RedactionRules())
    bus.subscribe(writer)
    seen: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)

    try:
        async with running_proxy(target, bus) as proxy_url:
            async with connect(proxy_url + endpoint) as client:
                await client.call_tool(tool, TOOLS[tool], progress_callback=on_progress)
            await asyncio.sleep(0.2)  # let the proxy see the client's streams close
    finally:
        bus.close()
    os.replace(temporary, path)
    return len(seen)


async def main() -> None:
    async with running_demo_server(event_store=True) as base_url:
        for name, endpoint, connect, tool in SAMPLES:
            path = HERE / f"{name}.yaml"
            count = await record_sample(base_url, path, endpoint, connect, tool)
            print(f"{path.relative_to(HERE.parent)}: {tool}, {count} progress notifications")


if __name__ == "__main__":
    asyncio.run(main())
