"""Run an async context manager on an event loop of its own, in a daemon thread.

The plugin's fixtures are synchronous, so a test may call `asyncio.run` itself (or run any
event loop it likes): the mock or the recording proxy must not share the test's loop, and
must keep answering while the test's thread blocks.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")
START_TIMEOUT = 15.0  # seconds for the server to listen
STOP_TIMEOUT = 15.0  # seconds for it to close its connections and its recording


class BackgroundContext(Generic[T]):
    """`with BackgroundContext(factory) as value:` enters `factory()` on a loop in a thread.

    The value is what the async context manager yields; leaving the block exits it on its
    own loop and joins the thread. An exception raised while entering or leaving it is
    raised again in the caller's thread.
    """

    def __init__(
        self, factory: Callable[[], AbstractAsyncContextManager[T]], name: str = "mcp-tap"
    ) -> None:
        self._factory = factory
        self._name = name
        self._ready = threading.Event()
        self._value: list[T] = []
        self._failure: list[BaseException] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> T:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            raise TimeoutError(f"{self._name} did not start within {START_TIMEOUT:g} s")
        if self._failure:
            self._thread.join(STOP_TIMEOUT)
            raise self._failure[0]
        return self._value[0]

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._loop is not None and self._stop is not None:
            stop = self._stop
            try:
                self._loop.call_soon_threadsafe(stop.set)
            except RuntimeError:  # the loop already ended
                pass
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT)
            if self._thread.is_alive():
                raise TimeoutError(f"{self._name} did not stop within {STOP_TIMEOUT:g} s")
        if self._failure and error is None:
            raise self._failure[0]

    def call(self, function: Callable[[], R]) -> R:
        """`function()` run on the context's own loop (its state is that loop's alone);
        what it raises is raised here."""
        if self._loop is None:
            raise RuntimeError(f"{self._name} is not running")

        async def run() -> R:
            return function()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(STOP_TIMEOUT)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as failure:  # noqa: BLE001 - handed to the caller's thread
            self._failure.append(failure)
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with self._factory() as value:
            self._value.append(value)
            self._ready.set()
            await self._stop.wait()


def run_in_thread(main: Callable[[], Coroutine[Any, Any, T]], name: str = "mcp-tap") -> T:
    """`asyncio.run(main())` in a thread of its own: usable whether or not the caller's
    thread already runs an event loop."""
    result: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            result.append(asyncio.run(main()))
        except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
            failure.append(error)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]
