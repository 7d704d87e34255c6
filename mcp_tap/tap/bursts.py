"""`StreamBursts`: whether an SSE stream's messages are crossing back to back.

While a server floods a stream with notifications, the client and the server keep a small
machine's cores busy, and the recorder's writer process would be one more process to run
among them. So `mcp-tap proxy` holds the recording's records while a stream bursts
(`RecordingWriter.hold_while(bursts.crossing)`, as `mcp-tap stdio` does with its pipes) and
the writer process catches up once the stream pauses, or after `feed.MAX_HOLD` (1 s) at most.

It is a bus subscriber: the bus delivers events on the loop turn after their chunk was
forwarded, so the time a message reaches it is the time its bytes crossed, near enough.
"""

from __future__ import annotations

import time

from mcp_tap.protocol.events import MessageSeen, StreamKind, TapEvent

QUIET = 0.001  # seconds without a streamed message that end a burst (as for stdio's pipes)
_STREAMS = frozenset({StreamKind.POST_SSE, StreamKind.GET_SSE, StreamKind.LEGACY_SSE})


class StreamBursts:
    """Notes when the last message of an SSE stream came; `crossing` while one just did."""

    def __init__(self) -> None:
        self._last = float("-inf")

    def handle(self, event: TapEvent) -> None:
        if type(event) is MessageSeen and event.stream in _STREAMS:
            self._last = time.monotonic()

    def close(self) -> None:
        pass

    def crossing(self) -> bool:
        """A streamed message came within `QUIET`."""
        return time.monotonic() - self._last < QUIET
