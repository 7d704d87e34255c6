"""`StreamBursts` says an SSE stream bursts while its messages come back to back, and only
then: the proxy's recorder holds its writer process on it (`RecordingWriter.hold_while`)."""

from __future__ import annotations

import time

import pytest

import mcp_tap.tap.bursts as bursts_module
from mcp_tap.protocol.events import Direction, MessageSeen, StreamKind
from mcp_tap.protocol.jsonrpc import classify_value
from mcp_tap.tap.bursts import StreamBursts
from mcp_tap.tap.bus import TapBus

pytestmark = pytest.mark.timeout(30)

NOTIFICATION = {"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progress": 1}}
STREAMS = [StreamKind.POST_SSE, StreamKind.GET_SSE, StreamKind.LEGACY_SSE]
NOT_STREAMS = [StreamKind.JSON_RESPONSE, StreamKind.REQUEST_BODY, StreamKind.STDIO]


def message(stream: StreamKind) -> MessageSeen:
    direction = Direction.SERVER_TO_CLIENT
    return MessageSeen(1, 0.0, direction, stream, None, classify_value(NOTIFICATION))


@pytest.mark.parametrize("stream", STREAMS + NOT_STREAMS)
def test_only_a_streamed_message_starts_a_burst(
    stream: StreamKind, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bursts_module, "QUIET", 3600.0)  # however slow this machine is
    bursts = StreamBursts()
    bus = TapBus([bursts])  # no event loop: each event is delivered as it is published
    assert not bursts.crossing()
    for _ in range(3):
        bus.publish(message(stream))
    assert bursts.crossing() is (stream in STREAMS)


def test_a_burst_ends_when_the_stream_pauses() -> None:
    bursts = StreamBursts()
    bus = TapBus([bursts])
    bus.publish(message(StreamKind.POST_SSE))
    deadline = time.monotonic() + 10
    while bursts.crossing():  # QUIET (1 ms) without another message: over
        assert time.monotonic() < deadline, "the burst never ended"
        time.sleep(bursts_module.QUIET / 4)
    assert not bursts.crossing()
