"""`mcp-tap proxy`: listen on loopback, forward to the target, publish what crosses."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import TextIO

from mcp_tap.http.limits import DEFAULT_LIMITS, Limits
from mcp_tap.http.proxy import client_url, running_proxy
from mcp_tap.tap.bus import TapBus

__all__ = ["ProxyOptions", "client_url", "run_proxy", "running_proxy", "target_or_demo"]


@dataclass
class ProxyOptions:
    """What `mcp-tap proxy` was asked to do."""

    target: str | None = None  # None: start the bundled demo server and proxy to it
    host: str = "127.0.0.1"
    port: int = 8890
    allow_hosts: Sequence[str] = ()  # Host names accepted besides loopback and --host
    limits: Limits = DEFAULT_LIMITS


@contextlib.asynccontextmanager
async def target_or_demo(target: str | None) -> AsyncIterator[str]:
    """The given target URL, or the URL of a demo server started for the occasion."""
    if target is not None:
        yield target
        return
    from demo_server.runner import running_demo_server

    async with running_demo_server() as base_url:
        yield base_url + "/mcp"


async def run_proxy(
    options: ProxyOptions,
    bus: TapBus,
    out: TextIO = sys.stdout,
    on_listening: Callable[[], None] | None = None,
) -> None:
    """Run until SIGINT or SIGTERM, then shut down cleanly.

    `on_listening` is called once the proxy listens: what only a running session should
    create (the recording file, the view and its summary) starts there, so a failed start
    leaves nothing behind.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if stop.is_set():
            raise KeyboardInterrupt  # a second Ctrl-C: out at once
        print(file=sys.stderr)  # the summary starts on a new line, not after `^C`
        stop.set()

    def on_closing(streams: int) -> None:
        print(f"mcp-tap: closing {streams} open streams", file=sys.stderr, flush=True)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    try:
        async with target_or_demo(options.target) as target:
            async with running_proxy(
                target,
                bus,
                options.host,
                options.port,
                options.allow_hosts,
                options.limits,
                on_closing,
            ) as base_url:
                if on_listening is not None:
                    on_listening()
                out.write(
                    f"mcp-tap listening on {base_url} - point your client at "
                    f"{client_url(base_url, target)} - forwarding to {target}\n"
                )
                out.flush()
                await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
