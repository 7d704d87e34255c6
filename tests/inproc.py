"""A proxy inside the test process, on a real loopback socket, whose tap events a test can read."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from mcp_tap.cli.proxy import running_proxy
from mcp_tap.protocol.events import Fault, Finding, MessageSeen, TapEvent
from mcp_tap.tap.bus import TapBus


class Collector:
    """A subscriber that keeps every event."""

    def __init__(self) -> None:
        self.events: list[TapEvent] = []

    def handle(self, event: TapEvent) -> None:
        self.events.append(event)

    def close(self) -> None:
        pass

    def messages(self) -> list[MessageSeen]:
        return [e for e in self.events if isinstance(e, MessageSeen)]

    @property
    def rules(self) -> list[str]:
        """The rule slugs of the findings seen, in order."""
        return [e.rule for e in self.events if isinstance(e, Finding)]

    def faults(self) -> list[Fault]:
        return [e for e in self.events if isinstance(e, Fault)]


def assert_error_answer(response: Any, status: int, request_id: Any, target: str) -> None:
    """The proxy's own answer: `status`, and a JSON-RPC error for `request_id` naming `target`."""
    assert response.status_code == status
    error = response.json()
    assert error["id"] == request_id
    assert target in error["error"]["message"]


def through_proxy(
    target: str, body: Callable[[str, Collector], Awaitable[None]], **proxy_options: Any
) -> Collector:
    """Run `body(proxy_base_url, collector)` with a proxy to `target` on a free port."""
    collector = Collector()

    async def main() -> None:
        bus = TapBus([collector])
        async with running_proxy(target, bus, **proxy_options) as base:
            await body(base, collector)
            await asyncio.sleep(0.05)  # let the last events drain
        bus.close()

    asyncio.run(main())
    return collector


async def raw_exchange(proxy: str, data: bytes) -> bytes:
    """Write `data` to the proxy, read until it closes the connection (bounded)."""
    host, port = proxy.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(data)
    answer = await asyncio.wait_for(reader.read(-1), 10)
    writer.close()
    return answer


class Asked:
    """A carrier's yes-or-no (`answer`), counting the questions: `asked` is set at the
    `after`-th, proof that the one asking looked that often and waited."""

    def __init__(self, answer: bool, after: int = 5) -> None:
        self.answer = answer
        self.after = after
        self.questions = 0
        self.asked = asyncio.Event()

    def __call__(self) -> bool:
        self.questions += 1
        if self.questions == self.after:
            self.asked.set()
        return self.answer
