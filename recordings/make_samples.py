"""Regenerate the sample recordings in this directory: `uv run python recordings/make_samples.py`.

Each sample is the real mcp-tap proxy, in front of the bundled demo server (with its event
store, so handshake-era SSE events carry ids), recording one real `mcp` SDK client calling
one tool with short step delays:

* `<tool>-2026-07-28.yaml`: the default `Client(url)`, which speaks 2026-07-28 (no session);
* `<tool>-handshake.yaml`: `Client(url, mode="legacy")`, the initialize handshake (2025-11-25,
  Mcp-Session-Id, standalone GET stream, DELETE at the end);
* `sse-2024-11-05.yaml`: the 2024-11-05 HTTP+SSE transport, with the client's handshake
  pinned to protocol version 2024-11-05;
* `concurrent-downloads-handshake.yaml`: one handshake session with two downloads at once, so
  two progress streams interleave in one session (as in `mcp-tap demo`).

`uv run python recordings/make_samples.py NAME...` regenerates only the samples named.

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
from mcp_tap.protocol.redaction import RedactionRules  # noqa: E402
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


Call = tuple[str, dict[str, Any]]
CONCURRENT_DOWNLOADS: list[Call] = [
    ("download_file", {"filename": "a.bin", "size_mb": 6, "step_delay": STEP}),
    ("download_file", {"filename": "b.bin", "size_mb": 4, "step_delay": STEP}),
]


def legacy(url: str) -> AbstractAsyncContextManager[Client]:
    """A handshake-era client (initialize, Mcp-Session-Id)."""
    return Client(url, mode="legacy")


SAMPLES: list[tuple[str, str, ClientFactory, list[Call]]] = [
    *((f"{tool}-2026-07-28", "/mcp", Client, [(tool, args)]) for tool, args in TOOLS.items()),
    *((f"{tool}-handshake", "/mcp", legacy, [(tool, args)]) for tool, args in TOOLS.items()),
    ("sse-2024-11-05", "/sse", pinned_2024_11_05, [("download_file", TOOLS["download_file"])]),
    ("concurrent-downloads-handshake", "/mcp", legacy, CONCURRENT_DOWNLOADS),
]


async def record_sample(
    base_url: str, path: Path, endpoint: str, connect: ClientFactory, calls: list[Call]
) -> int:
    """Record one client session through a fresh proxy, its calls made at once; return the
    progress count seen."""
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
                await asyncio.gather(
                    *(
                        client.call_tool(tool, args, progress_callback=on_progress)
                        for tool, args in calls
                    )
                )
            await asyncio.sleep(0.2)  # let the proxy see the client's streams close
    finally:
        bus.close()
    os.replace(temporary, path)
    return len(seen)


async def main(names: list[str]) -> None:
    unknown = set(names) - {sample[0] for sample in SAMPLES}
    if unknown:
        sys.exit(f"no such sample: {', '.join(sorted(unknown))}")
    async with running_demo_server(event_store=True) as base_url:
        for name, endpoint, connect, calls in SAMPLES:
            if names and name not in names:
                continue
            path = HERE / f"{name}.yaml"
            count = await record_sample(base_url, path, endpoint, connect, calls)
            tools = ", ".join(tool for tool, _ in calls)
            print(f"{path.relative_to(HERE.parent)}: {tools}, {count} progress notifications")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
