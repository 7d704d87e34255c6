"""`mcp-tap show --follow`: the live view of a recording another process is still writing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from mcp_tap.protocol.events import (
    Direction,
    ExchangeClosed,
    ExchangeOpened,
    MessageKind,
    MessageSeen,
    RpcMessage,
    StreamKind,
)
from mcp_tap.recording.follow import RecordingTail
from mcp_tap.recording.reader import load_recording
from mcp_tap.recording.writer import RecordingWriter
from tests.procs import running

pytestmark = pytest.mark.timeout(60)


def progress_event(n: int) -> MessageSeen:
    params = {"progressToken": "t", "progress": n, "total": 3}
    payload = {"jsonrpc": "2.0", "method": "notifications/progress", "params": params}
    message = RpcMessage(MessageKind.NOTIFICATION, payload=payload, method="notifications/progress")
    return MessageSeen(1, 0.1 * n, Direction.SERVER_TO_CLIENT, StreamKind.POST_SSE, None, message)


def follower(path: Path, *extra: str):  # type: ignore[no-untyped-def]
    return running(
        [sys.executable, "-m", "mcp_tap", "show", "--follow", str(path), "--jsonl", *extra]
    )


def test_events_reach_the_follower_as_they_are_written_and_it_ends_with_the_writer(
    tmp_path: Path,
) -> None:
    path = tmp_path / "live.yaml"
    with follower(path) as proc:
        proc.wait_for_line(r"waiting for .*live.yaml to appear")
        writer = RecordingWriter(path, "http://127.0.0.1:1/mcp")
        writer.handle(ExchangeOpened(1, 0.0, "POST", "/mcp", (), None))
        for n in (1, 2, 3):
            writer.handle(progress_event(n))
            line = proc.wait_for_line(r'"type": ?"message"', timeout=10).string
            assert json.loads(line)["message"]["json"]["params"]["progress"] == n  # one by one
        writer.handle(ExchangeClosed(1, 0.5, "complete"))
        writer.close()
        assert proc.finish(timeout=10) == 0  # the writer let go: the follower ends by itself


def test_since_now_skips_what_was_already_written(tmp_path: Path) -> None:
    path = tmp_path / "live.yaml"
    writer = RecordingWriter(path, "http://127.0.0.1:1/mcp")
    writer.handle(progress_event(1))
    with follower(path, "--since-now") as proc:
        proc.wait_for_line(r"following .*live.yaml")
        writer.handle(progress_event(2))
        line = proc.wait_for_line(r'"type": ?"message"', timeout=10).string
        assert json.loads(line)["message"]["json"]["params"]["progress"] == 2
        writer.close()
        assert proc.finish(timeout=10) == 0
    assert not any('"progress": 1' in line for line in proc.lines)


def test_the_tail_parses_documents_split_anywhere_like_the_reader(tmp_path: Path) -> None:
    sample = Path(__file__).resolve().parent.parent / "recordings" / "sse-2024-11-05.yaml"
    data = sample.read_bytes()
    tail = RecordingTail(str(sample))
    events = [event for i in range(0, len(data), 97) for event in tail.feed(data[i : i + 97])]
    assert events == load_recording(sample).events
    assert tail.header is not None and tail.header["format"] == "mcp-tap-recording"
