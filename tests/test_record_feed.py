"""The event loop feeds the recorder's writer process (`recording/feed.py`).

Real forks, real pipes: what the file holds is read back with `load_recording`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import mcp_tap.recording.feed as feed
from mcp_tap.protocol.events import Direction, MessageSeen, StreamKind, TapEvent
from mcp_tap.protocol.jsonrpc import classify_value
from mcp_tap.recording.reader import load_recording
from mcp_tap.recording.writer import RecordingWriter
from tests.inproc import Asked

TARGET = "http://127.0.0.1:8000/mcp"


def progress(number: int) -> MessageSeen:
    message = classify_value(
        {
            "jsonrpc": "2.0",
            "method": "notifications/progress",
            "params": {"progressToken": 1, "progress": number, "message": "x" * 40},
        }
    )
    return MessageSeen(1, number / 1e6, Direction.SERVER_TO_CLIENT, StreamKind.STDIO, None, message)


def recorded(path: Path) -> list[TapEvent]:
    return load_recording(path).events


async def _held_then_released(path: Path) -> tuple[int, int]:
    """Events recorded while the hold said a burst crosses, then once it is released."""
    writer = RecordingWriter(path, TARGET, separate_process=True)
    crossing = Asked(True)
    writer.hold_while(crossing)
    for number in range(1, 11):
        writer.handle(progress(number))
    await asyncio.wait_for(crossing.asked.wait(), 10)  # the feed looked five times, and waited
    while_held = len(recorded(path))
    crossing.answer = False
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while len(recorded(path)) < 10:  # sent once released: the writer process writes them
        assert loop.time() < deadline, "the events never reached the recording"
        await asyncio.sleep(0.01)
    writer.close()
    return while_held, len(recorded(path))


def test_nothing_is_sent_while_a_burst_holds_the_feed(tmp_path: Path) -> None:
    while_held, after = asyncio.run(_held_then_released(tmp_path / "r.yaml"))
    assert (while_held, after) == (0, 10)


def test_a_burst_bigger_than_the_pipe_is_recorded_whole_and_in_order(tmp_path: Path) -> None:
    count = 20_000  # 2.3 MB of records: the pipe (1 MiB) fills, frames wait for room
    events = [progress(number) for number in range(1, count + 1)]

    path = tmp_path / "r.yaml"

    async def feed() -> None:
        writer = RecordingWriter(path, TARGET, separate_process=True)
        for event in events:
            writer.handle(event)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while path.read_bytes().count(b"\ntype: message\n") < count:  # sent by the loop
            assert loop.time() < deadline, "the loop never sent the whole burst"
            await asyncio.sleep(0.05)
        writer.close()

    asyncio.run(feed())
    assert recorded(path) == events


def test_a_burst_that_never_ends_holds_the_feed_for_max_hold_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feed, "MAX_HOLD", 0.05)
    path = tmp_path / "r.yaml"

    async def run() -> None:
        writer = RecordingWriter(path, TARGET, separate_process=True)
        writer.hold_while(lambda: True)
        for number in range(1, 11):
            writer.handle(progress(number))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while len(recorded(path)) < 10:  # sent once held that long, the burst still crossing
            assert loop.time() < deadline, "a hold that never ends kept the events back"
            await asyncio.sleep(0.01)
        writer.close()

    asyncio.run(run())
    assert recorded(path) == [progress(number) for number in range(1, 11)]
