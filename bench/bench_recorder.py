"""Benchmark the recording writer: `uv run python bench/bench_recorder.py [--events N]`.

`--thread` writes from a thread of this process, as `demo`, `replay`, `serve` and the
pytest plugin do; by default a writer process writes, as `mcp-tap stdio` and `proxy` do.

Publishes N `notifications/progress` MessageSeen events (default 100,000) to a
RecordingWriter as fast as one thread can, like a proxy under a flood, and reports:

* publisher cost: wall time of the `handle()` loop per event, i.e. what the proxy's event
  loop pays per event (it includes waiting for the GIL while the writer thread serialises);
* writer throughput: events per second from the first `handle()` until `close()` returned,
  i.e. until every event was redacted, dumped as YAML and written;
* event-loop lag: how late a 1 ms timer fires on an asyncio loop while the writer thread
  works, against the same loop idle; the writer shares the GIL with the proxy's loop;
* the file's size, and that it loads back with every event.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run without installing

from mcp_tap.protocol.events import Direction, MessageSeen, StreamKind  # noqa: E402
from mcp_tap.protocol.jsonrpc import classify_value  # noqa: E402
from mcp_tap.protocol.redaction import RedactionRules  # noqa: E402
from mcp_tap.recording.reader import load_recording  # noqa: E402
from mcp_tap.recording.writer import RecordingWriter  # noqa: E402


def progress_events(count: int) -> list[MessageSeen]:
    """`count` progress notifications as a handshake-era POST SSE stream carries them."""
    events = []
    for step in range(1, count + 1):
        message = classify_value(
            {
                "jsonrpc": "2.0",
                "method": "notifications/progress",
                "params": {
                    "progressToken": 2,
                    "progress": step,
                    "total": count,
                    "message": f"report.pdf: {step}/{count} MB",
                },
            }
        )
        events.append(
            MessageSeen(
                exchange_id=4,
                time=step / 1000,
                direction=Direction.SERVER_TO_CLIENT,
                stream=StreamKind.POST_SSE,
                session_id="0f8e3c5a9b2d4e6f8a1c3e5b7d9f1a2c",
                message=message,
                sse_id=str(step),
            )
        )
    return events


async def timer_lag(until: asyncio.Future[None] | None, seconds: float = 0.5) -> list[float]:
    """How late each 1 ms sleep wakes up, in ms, until `until` is done (or for `seconds`)."""
    lags: list[float] = []
    deadline = time.perf_counter() + seconds
    while not until.done() if until is not None else time.perf_counter() < deadline:
        before = time.perf_counter()
        await asyncio.sleep(0.001)
        lags.append((time.perf_counter() - before - 0.001) * 1e3)
    return lags


def describe_lag(lags: list[float]) -> str:
    ordered = sorted(lags)
    p99 = ordered[int(len(ordered) * 0.99)]
    return f"median {statistics.median(ordered):.2f} ms, p99 {p99:.2f} ms, max {ordered[-1]:.2f} ms"


async def run(count: int, directory: Path, process: bool = True) -> None:
    events = progress_events(count)
    path = directory / "bench.yaml"
    idle_lag = await timer_lag(None)
    target = "http://127.0.0.1:8000/mcp"
    writer = RecordingWriter(path, target, RedactionRules(), separate_process=process)

    started = time.perf_counter()
    for event in events:
        writer.handle(event)
    published = time.perf_counter()
    closing = asyncio.ensure_future(asyncio.to_thread(writer.close))
    busy_lag = await timer_lag(closing)
    await closing
    finished = time.perf_counter()

    publish_s, total_s = published - started, finished - started
    print(f"events:            {count:,} ({'a writer process' if process else 'a thread'})")
    print(f"publisher cost:    {publish_s / count * 1e6:.2f} us per handle() ({publish_s:.3f} s)")
    print(f"writer throughput: {count / total_s:,.0f} events/s ({total_s:.2f} s to close)")
    print(f"loop lag, idle:    {describe_lag(idle_lag)}")
    print(f"loop lag, writing: {describe_lag(busy_lag)}")
    print(f"file:              {path.stat().st_size / 1e6:.1f} MB")

    load_started = time.perf_counter()
    recording = load_recording(path)
    load_s = time.perf_counter() - load_started
    assert len(recording.events) == count and not recording.warnings
    print(f"read back:         {count / load_s:,.0f} events/s, all {count:,} events")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--thread", action="store_true", help="write from a thread")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(run(args.events, Path(directory), not args.thread))


if __name__ == "__main__":
    main()
