"""What the tracker and the view cost the proxy under a flood of progress notifications.

    uv run python bench/bench_view.py [--rate 10000] [--seconds 3] [--streams 4]

Simulates `--rate` events per second for `--seconds`, as the bus would deliver them: every
event goes through `ProgressTracker.handle` and the view's `handle` (the only work on the
forwarding path), and every 1/12 s one frame renders what queued up. It prints the time
per handle() call and per frame, for the view writing to a file (plain lines), to a forced
terminal (colors and live bars) and as JSON lines, and the share of one CPU that adds up to.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mcp_tap.analysis.tracker import ProgressTracker  # noqa: E402
from mcp_tap.protocol.events import TapEvent  # noqa: E402
from mcp_tap.view.console import DEFAULT_FPS, ConsoleView, ViewOptions  # noqa: E402
from mcp_tap.view.jsonl import JsonLinesView  # noqa: E402
from tests.tap_script import TapScript, progress  # noqa: E402


def flood(rate: int, seconds: float, streams: int) -> list[TapEvent]:
    """`streams` concurrent tools/calls, then `rate * seconds` progress notifications."""
    script = TapScript()
    exchanges = [script.call(n, token=n) for n in range(1, streams + 1)]
    total = rate * seconds
    for i in range(int(total)):
        script.at(i / rate)
        token = i % streams + 1
        value = i // streams + 1
        script.send(
            exchanges[token - 1], progress(token, value, total=total, message=f"item {value}")
        )
    return script.events


def run(
    name: str, events: list[TapEvent], make_view: Callable[[ProgressTracker], object], rate: int
) -> None:
    async def measure() -> tuple[float, float, list[float]]:
        tracker = ProgressTracker(lambda event: None, keep_endings=True)
        view = make_view(tracker)
        handle_view = view.handle  # type: ignore[attr-defined]
        render = getattr(view, "render_frame", None) or view.flush  # type: ignore[attr-defined]
        per_frame = max(1, int(rate / DEFAULT_FPS))
        tracker_time = view_time = 0.0
        frames: list[float] = []
        for start in range(0, len(events), per_frame):
            batch = events[start : start + per_frame]
            t0 = time.perf_counter()
            for event in batch:
                tracker.handle(event)
            t1 = time.perf_counter()
            for event in batch:
                handle_view(event)  # on a loop: queues, and schedules one timer per frame
            t2 = time.perf_counter()
            render()
            frames.append(time.perf_counter() - t2)
            tracker_time += t1 - t0
            view_time += t2 - t1
        view._pacer.cancel()  # type: ignore[attr-defined]
        return tracker_time, view_time, frames

    tracker_time, view_time, frames = asyncio.run(measure())
    n = len(events)
    frames_per_second = DEFAULT_FPS
    handle_us = (tracker_time + view_time) / n * 1e6
    frame_ms = statistics.mean(frames) * 1e3
    cpu = (handle_us * rate / 1e6) + (frame_ms / 1e3 * frames_per_second)
    print(
        f"{name:<28} tracker.handle {tracker_time / n * 1e6:5.2f} us  view.handle "
        f"{view_time / n * 1e6:5.2f} us  frame ({int(rate / DEFAULT_FPS)} events) mean "
        f"{frame_ms:6.2f} ms  p95 {sorted(frames)[int(len(frames) * 0.95)] * 1e3:6.2f} ms  "
        f"=> {cpu:5.1%} of a CPU at {rate} events/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=10_000, help="events per second")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--streams", type=int, default=4, help="concurrent progress tokens")
    args = parser.parse_args()
    events = flood(args.rate, args.seconds, args.streams)
    print(f"{len(events)} events, {args.streams} progress streams, {DEFAULT_FPS:g} frames/s")
    with open(os.devnull, "w") as devnull:
        run(
            "plain, to a file",
            events,
            lambda tracker: ConsoleView(tracker, ViewOptions(), Console(file=devnull, width=120)),
            args.rate,
        )
        run(
            "colors + bars, terminal",
            events,
            lambda tracker: ConsoleView(
                tracker, ViewOptions(), Console(file=devnull, force_terminal=True, width=120)
            ),
            args.rate,
        )
        run(
            "quiet (-q), terminal",
            events,
            lambda tracker: ConsoleView(
                tracker,
                ViewOptions(quiet=True),
                Console(file=devnull, force_terminal=True, width=120),
            ),
            args.rate,
        )
        run("--jsonl", events, lambda tracker: JsonLinesView(devnull), args.rate)


if __name__ == "__main__":
    main()
