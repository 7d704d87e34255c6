"""Run the demo app on a free port, for tests, benchmarks and the `mcp-tap` commands.

Serving goes through `mcp_tap.http.serving`, which binds the socket itself (so port 0 works and
the port is known) and leaves signal handling to the program that embeds the server.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager

from demo_server.app import build_app
from mcp_tap.http.serving import serving

DEFAULT_HOST = "127.0.0.1"
STARTUP_TIMEOUT = 10.0


class _HideCancelledRequests(logging.Filter):
    """Drop uvicorn's traceback for a request it cancelled itself while shutting down.

    A tool call still running when the graceful-shutdown timeout expires is cancelled, and
    uvicorn logs that as "Exception in ASGI application" with a CancelledError traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith("Cancel ") and "graceful shutdown" in record.getMessage():
            return False  # "Cancel 1 running task(s), timeout graceful shutdown exceeded"
        return not (record.exc_info and isinstance(record.exc_info[1], asyncio.CancelledError))


def _quiet_cancellations() -> None:
    error_log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _HideCancelledRequests) for f in error_log.filters):
        error_log.addFilter(_HideCancelledRequests())


@asynccontextmanager
async def running_demo_server(
    step_delay: float = 0.2, event_store: bool = False, host: str = DEFAULT_HOST, port: int = 0
) -> AsyncIterator[str]:
    """Serve the demo app in a task of the running event loop; yield its base URL.

    The URL is yielded once the server accepts connections; the server stops on exit.
    """
    app = build_app(step_delay=step_delay, event_store=event_store)
    # It ends with the command that started it: a tool call still running is cut at once (its
    # client is gone too), so Ctrl-C takes well under half a second.
    async with serving(app, host, port, log_level="warning", shutdown_grace=0) as url:
        _quiet_cancellations()  # after uvicorn configured its loggers
        yield url


@contextmanager
def demo_server_thread(
    step_delay: float = 0.2, event_store: bool = False, host: str = DEFAULT_HOST, port: int = 0
) -> Iterator[str]:
    """Serve the demo app on an event loop in a daemon thread; yield its base URL.

    For synchronous code, and for async code that must not share its loop with the server
    (e.g. to measure it). The server stops and the thread is joined on exit.
    """
    ready: list[str] = []
    failure: list[BaseException] = []
    stop = threading.Event()

    async def main() -> None:
        async with running_demo_server(step_delay, event_store, host, port) as url:
            ready.append(url)
            while not stop.is_set():
                await asyncio.sleep(0.02)

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # SystemExit included: uvicorn exits on startup failure
            failure.append(exc)

    thread = threading.Thread(target=run, name="demo-server", daemon=True)
    thread.start()
    try:
        _wait_until(lambda: bool(ready) or not thread.is_alive())
        if not ready:
            raise RuntimeError("demo server failed to start") from (failure[0] if failure else None)
        yield ready[0]
    finally:
        stop.set()
        thread.join(timeout=STARTUP_TIMEOUT)


def serve_forever(
    host: str = DEFAULT_HOST,
    port: int = 0,
    step_delay: float = 0.2,
    event_store: bool = False,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the demo app in the current thread until SIGINT or SIGTERM.

    `on_ready(base_url)` runs once the server accepts connections.
    """

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with running_demo_server(step_delay, event_store, host, port) as url:
            if on_ready is not None:
                on_ready(url)
            await stop.wait()

    asyncio.run(main())


def _wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"demo server did not start within {STARTUP_TIMEOUT} s")
        time.sleep(0.01)
