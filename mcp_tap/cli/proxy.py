"""`mcp-tap proxy`: listen on loopback, forward to the target, publish what crosses."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from mcp_tap.http.ca import LocalCA
from mcp_tap.http.forward import ForwardProxy
from mcp_tap.http.front import serving_requests
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
    forward: bool = False  # a forward proxy for any host; allow_hosts: the hosts it reads


@contextlib.asynccontextmanager
async def target_or_demo(target: str | None) -> AsyncIterator[str]:
    """The given target URL, or the URL of a demo server started for the occasion."""
    if target is not None:
        yield target
        return
    from demo_server.runner import running_demo_server

    async with running_demo_server() as base_url:
        yield base_url + "/mcp"


@contextlib.asynccontextmanager
async def running_forward_proxy(
    bus: TapBus,
    ca: LocalCA,
    host: str = "127.0.0.1",
    port: int = 0,
    intercept: Sequence[str] = (),
    limits: Limits = DEFAULT_LIMITS,
    on_closing: Callable[[int], None] | None = None,
) -> AsyncIterator[str]:
    """Serve a forward proxy in the background; yield its URL (what HTTPS_PROXY names)."""
    proxy = ForwardProxy(bus, ca, intercept, limits)
    try:
        async with serving_requests(proxy, host, port, limits, on_closing) as base_url:
            yield base_url
    finally:
        await proxy.aclose()


def forward_environment(proxy_url: str, ca_cert: Path, bundle: Path) -> str:
    """The variables a client's environment needs to go through the forward proxy."""
    return (
        f"HTTPS_PROXY={proxy_url} HTTP_PROXY={proxy_url} NO_PROXY= "
        f"SSL_CERT_FILE={bundle} NODE_EXTRA_CA_CERTS={ca_cert}"
    )


async def run_forward_proxy(
    options: ProxyOptions,
    ca: LocalCA,
    bus: TapBus,
    out: TextIO = sys.stdout,
    on_listening: Callable[[], None] | None = None,
) -> None:
    """`mcp-tap proxy --forward`, until SIGINT or SIGTERM."""
    bundle = ca.write_bundle()
    async with _until_signalled() as stop:
        async with running_forward_proxy(
            bus,
            ca,
            options.host,
            options.port,
            options.allow_hosts,
            options.limits,
            _say_closing,
        ) as base_url:
            if on_listening is not None:
                on_listening()
            reads = ", ".join(options.allow_hosts) if options.allow_hosts else "every host"
            out.write(
                f"mcp-tap forward proxy listening on {base_url} - reading {reads}\n"
                f"set in the client's environment:\n"
                f"  {forward_environment(base_url, ca.cert_path, bundle)}\n"
            )
            out.flush()
            await stop.wait()


def _say_closing(streams: int) -> None:
    print(f"mcp-tap: closing {streams} open streams", file=sys.stderr, flush=True)


@contextlib.asynccontextmanager
async def _until_signalled() -> AsyncIterator[asyncio.Event]:
    """An event set by the first SIGINT or SIGTERM; a second one exits at once."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if stop.is_set():
            raise KeyboardInterrupt  # a second Ctrl-C: out at once
        print(file=sys.stderr)  # the summary starts on a new line, not after `^C`
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    try:
        yield stop
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


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
    async with _until_signalled() as stop, target_or_demo(options.target) as target:
        async with running_proxy(
            target,
            bus,
            options.host,
            options.port,
            options.allow_hosts,
            options.limits,
            _say_closing,
        ) as base_url:
            if on_listening is not None:
                on_listening()
            out.write(
                f"mcp-tap listening on {base_url} - point your client at "
                f"{client_url(base_url, target)} - forwarding to {target}\n"
            )
            out.flush()
            await stop.wait()
