"""How long an event takes from the recorder to a `show --follow` process that prints it.

    uv run python bench/follow_latency.py [--events 300] [--interval 0.01]

An in-process RecordingWriter writes progress notifications stamped with the wall clock; a
real `mcp-tap show --follow --jsonl` reads the file and prints each event. The delay is the
time from `RecordingWriter.handle` to the line being read here: the writer's batching, the
follower's polling and its output, together. Goal (issue 14): within 100 ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mcp_tap.protocol.events import (  # noqa: E402
    Direction,
    MessageKind,
    MessageSeen,
    RpcMessage,
    StreamKind,
)
from mcp_tap.recording.writer import RecordingWriter  # noqa: E402


def event(n: int) -> MessageSeen:
    params = {"progressToken": "t", "progress": n, "message": repr(time.time())}
    payload = {"jsonrpc": "2.0", "method": "notifications/progress", "params": params}
    message = RpcMessage(MessageKind.NOTIFICATION, payload=payload, method="notifications/progress")
    return MessageSeen(1, float(n), Direction.SERVER_TO_CLIENT, StreamKind.POST_SSE, None, message)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--interval", type=float, default=0.01, help="seconds between events")
    args = parser.parse_args()
    path = Path(tempfile.mkdtemp()) / "followed.yaml"
    writer = RecordingWriter(path, "http://127.0.0.1:1/mcp")
    follower = subprocess.Popen(
        [sys.executable, "-m", "mcp_tap", "show", "--follow", str(path), "--jsonl"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert follower.stderr is not None and follower.stdout is not None
    follower.stderr.readline()  # "following ..."
    delays: list[float] = []

    def read() -> None:
        assert follower.stdout is not None
        for line in follower.stdout:
            data = json.loads(line)
            if data.get("type") == "message":
                sent = float(data["message"]["json"]["params"]["message"])
                delays.append(time.time() - sent)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    for n in range(args.events):
        writer.handle(event(n))
        time.sleep(args.interval)
    time.sleep(0.5)
    writer.close()
    follower.wait(timeout=10)
    reader.join(timeout=5)
    delays_ms = sorted(d * 1000 for d in delays)
    p99 = delays_ms[int(len(delays_ms) * 0.99) - 1]
    print(f"{len(delays_ms)}/{args.events} events followed")
    p50 = statistics.median(delays_ms)
    print(f"delay p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {delays_ms[-1]:.1f} ms")


if __name__ == "__main__":
    main()
