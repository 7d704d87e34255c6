"""An SSE stream the mock holds open and writes an event at a time, for as long as it is open.

Both GET streams are one: the 2024-11-05 transport's `GET /sse`, where every answer goes
(`legacy_sse.py`), and Streamable HTTP's standalone GET stream, where the requests a recorded
server sent outside any call's own stream go (`standalone.py`). The stream ends when the
client leaves or the mock stops; it is a `pacing.Outlet` whose every message leaves at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from mcp_tap.http.front import ClientConnection
from mcp_tap.protocol.events import Headers
from mcp_tap.serve.wire import SSE_HEADERS, dumps
from mcp_tap.tap.exchange import ExchangeTap


class OpenStream:
    """One held-open GET stream (front.ExchangeListener; pacing.Outlet, writing at once)."""

    def __init__(
        self,
        client: ClientConnection,
        tap: ExchangeTap,
        on_close: Callable[[], None],
        extra: Headers = (),
    ) -> None:
        self.client, self.tap, self.on_close = client, tap, on_close
        self.writable = asyncio.Event()
        self.writable.set()
        self.open = True
        client.listener = self
        headers = (*SSE_HEADERS, *extra)
        client.start_response(200, headers)
        client.flush()  # the client sees the stream open before anything is sent on it
        tap.response_started(200, headers)

    def send(self, message: bytes | dict[str, Any]) -> None:
        """One message on the stream, now."""
        data = message if isinstance(message, bytes) else dumps(message)
        self.write(b"event: message\ndata: " + data + b"\n\n")

    def write(self, data: bytes) -> None:
        """Raw bytes on the stream, now (nothing once it has closed)."""
        if self.open:
            self.client.write_body(data)
            self.tap.response_chunk(data)

    def end(self) -> None:
        """The mock stops: end the stream cleanly."""
        if self.open:
            self.close("complete")
            self.client.end_response()

    def close(self, reason: str) -> None:
        """Mark the stream closed, tap its end, and tell its owner."""
        self.open = False
        self.tap.closed(reason)
        self.on_close()

    # -- pacing.Outlet: an event is written at once --

    async def put(self, message: dict[str, Any]) -> bool:
        self.send(message)
        return self.open

    def flush(self) -> None:
        pass

    async def ready(self) -> None:
        await self.writable.wait()

    # -- front.ExchangeListener --

    def client_gone(self) -> None:
        if self.open:
            self.close("client-disconnected")

    def client_paused(self) -> None:
        self.writable.clear()

    def client_resumed(self) -> None:
        self.writable.set()
