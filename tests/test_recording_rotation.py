"""A recording rotated by `logrotate`'s copytruncate while mcp-tap writes it.

copytruncate copies the file, then empties it in place; the writer keeps its descriptor. A
real `mcp-tap stdio` session is recorded, the file copied and truncated mid-session, the
session goes on, and `mcp-tap show` reads both files.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from mcp_tap.protocol.events import Direction, ExchangeOpened, MessageSeen
from mcp_tap.recording.reader import Recording, load_recording
from tests.test_stdio import (
    INITIALIZE,
    ROOT,
    LineReader,
    child,
    closed_reason,
    line,
    messages,
    spawned,
    tap,
)

PING = {"jsonrpc": "2.0", "id": 2, "method": "ping"}


def recorded(path: Path, count: int) -> Recording:
    """The recording once it holds `count` messages (the writer works in batches)."""
    deadline = time.monotonic() + 30
    while True:
        recording = load_recording(path)
        if len(messages(recording)) >= count:
            return recording
        assert time.monotonic() < deadline, f"{path} never got {count} messages"
        time.sleep(0.02)


def show(path: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "mcp_tap", "show", str(path)],
        capture_output=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.decode()


def test_a_recording_truncated_while_written_goes_on_readable(tmp_path: Path) -> None:
    record = tmp_path / "rec.yaml"
    rotated = tmp_path / "rec.yaml.1"
    with spawned(tap(record, *child("cat"))) as process:
        assert process.stdin is not None and process.stdout is not None
        reader = LineReader(process.stdout)
        process.stdin.write(line(INITIALIZE))
        process.stdin.flush()
        assert reader.next() == line(INITIALIZE)
        recorded(record, 2)  # the request and its echo are on disk
        shutil.copyfile(record, rotated)  # what copytruncate does
        os.truncate(record, 0)
        process.stdin.write(line(PING))
        process.stdin.flush()
        assert reader.next() == line(PING)
        process.stdin.close()
        assert process.wait(timeout=30) == 0

    for path in (rotated, record):
        assert b"\0" not in path.read_bytes(), f"{path.name} has NUL bytes"

    before = load_recording(rotated)
    assert [m.message.method for m in messages(before)] == ["initialize", "initialize"]
    assert "initialize" in show(rotated)

    after = load_recording(record)
    assert after.header == before.header  # the same session, its times on the same clock
    assert isinstance(after.events[0], ExchangeOpened)  # the exchange still open, again
    pings = [e for e in after.events if isinstance(e, MessageSeen)]
    assert [(m.direction, m.message.id) for m in pings] == [(d, 2) for d in Direction]
    assert closed_reason(after) == "host-closed"
    text = show(record)
    assert "ping" in text and "initialize" not in text
    assert re.search(r"\b1 session\b", " ".join(text.split()))  # the run goes on, one session
