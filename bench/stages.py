"""Where the proxy's CPU per tools/list exchange goes, stage by stage.

    uv run python bench/stages.py [--calls 2000] [--no-check] [--stream EVENTS]

Starts the demo server and `mcp-tap proxy` as a user runs it (recording to a temp file, view
on, stdout to a file), but through this script's `--child` mode: it wraps the proxy's own
steps in timers of the calling thread's CPU time (`time.thread_time_ns`) before running
`mcp_tap proxy`, and prints each stage's total when the proxy exits. The timers are
exclusive: a stage called inside another is taken out of the outer one. Stages:

* relay: the two HTTP protocols' `data_received` (front and upstream), with the tap's hooks
  and what they call taken out;
* tap: the exchange tap (`ExchangeTap`: request, head, chunks, close), parsing taken out;
* parse: `classify_text` (JSON decoding and JSON-RPC classification);
* bus: delivery (`TapBus.drain`), subscribers taken out;
* tracker, checker <class> (every other judging subscriber), recorder (its `handle`, on the loop),
  view (its `handle` and its frames, on the loop);
* recorder feed: events turned into records and sent to the writer process, on the loop;
* view thread: the view's lines written to the file;
* writer process: the recorder's forked writer (redaction, YAML, write), read from /proc as
  the CPU of the proxy's process tree minus the proxy's own;
* other: the proxy process's CPU (/proc, all threads) minus the stages: the event loop,
  sockets, timers, the interpreter's own work, and the timers themselves (~1 us a call).

The calls go one at a time (1,000 warm-up calls first, not counted). With `--stream EVENTS`,
each call is instead a `stream_progress` call of that many notifications, and the figures
are per streamed event (the HTTP stream of `bench/run.py`, taken apart).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import wire
from children import Child, demo_server, wait_idle

REPORT = "stages:"
_totals: Counter[str] = Counter()
_local = threading.local()


def timed(stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """`function`, its thread CPU time charged to `stage`, minus nested stages."""

    def run(*args: Any, **kwargs: Any) -> Any:
        stack = getattr(_local, "stack", None)
        if stack is None:
            stack = _local.stack = []
        now = time.thread_time_ns()
        if stack:
            outer = stack[-1]
            _totals[outer[0]] += now - outer[1]
        stack.append([stage, now])
        try:
            return function(*args, **kwargs)
        finally:
            now = time.thread_time_ns()
            inner = stack.pop()
            _totals[inner[0]] += now - inner[1]
            if stack:
                stack[-1][1] = now

    return run


def wrap_methods(cls: type, stage: str, names: list[str]) -> None:
    for name in names:
        setattr(cls, name, timed(stage, getattr(cls, name)))


def instrument() -> None:
    """Wrap the proxy's steps (see the module docstring) before it starts."""
    import mcp_tap.protocol.jsonrpc as jsonrpc
    from mcp_tap.http.front import ClientConnection
    from mcp_tap.http.upstream_connection import UpstreamConnection
    from mcp_tap.recording.feed import RecordFeed
    from mcp_tap.tap.bus import TapBus
    from mcp_tap.tap.exchange import ExchangeTap
    from mcp_tap.view.console import ConsoleView
    from mcp_tap.view.output import ViewOutput

    wrap_methods(ClientConnection, "relay", ["data_received"])
    wrap_methods(UpstreamConnection, "relay", ["data_received"])
    wrap_methods(ExchangeTap, "tap", ["opened", "response_started", "response_chunk", "closed"])
    original = jsonrpc.classify_text
    parse = timed("parse", original)
    for module in list(sys.modules.values()):
        if getattr(module, "__name__", "").startswith("mcp_tap") and (
            getattr(module, "classify_text", None) is original
        ):
            module.classify_text = parse  # type: ignore[attr-defined]
    wrap_methods(TapBus, "bus", ["drain"])
    wrap_methods(RecordFeed, "recorder feed", ["_work"])
    wrap_methods(ConsoleView, "view", ["render_frame"])
    wrap_methods(ViewOutput, "view thread", ["_write_now"])
    subscribe = TapBus.subscribe

    def timed_subscribe(bus: TapBus, subscriber: Any) -> None:
        name = type(subscriber).__name__
        stage = {
            "ProgressTracker": "tracker",
            "RecordingWriter": "recorder",
            "ConsoleView": "view",
        }.get(name, f"checker {name}")
        subscriber.handle = timed(stage, subscriber.handle)
        subscribe(bus, subscriber)

    TapBus.subscribe = timed_subscribe  # type: ignore[method-assign]

    def report(*_: object) -> None:
        totals = {stage: ns / 1e9 for stage, ns in sorted(_totals.items())}
        print(REPORT, repr(totals), file=sys.stderr, flush=True)

    signal.signal(signal.SIGUSR1, report)


def child(argv: list[str]) -> None:
    import mcp_tap.cli.proxy  # noqa: F401  (what the proxy imports, before the wrapping)
    from mcp_tap.cli import main

    instrument()
    sys.exit(main(argv))


def snapshot(proxy: Child) -> dict[str, float]:
    """The stage totals so far (seconds), as the proxy prints them on SIGUSR1."""
    seen = len(re.findall(REPORT, proxy.output()))
    os.kill(proxy.pid, signal.SIGUSR1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = re.findall(REPORT + r" (\{.*\})", proxy.output())
        if len(lines) > seen:
            return dict(eval(lines[-1]))  # a dict of floats this script printed  # noqa: S307
        time.sleep(0.02)
    raise TimeoutError("the proxy printed no stage totals")


async def calls(
    url: str, warmup: int, count: int, proxy: Child, stream: int
) -> tuple[float, dict[str, float]]:
    """CPU seconds the proxy's own process spent on `count` calls after `warmup` ones, and
    the stages' seconds over the same calls (the writer process's among them)."""

    async def call(http: Any, request_id: int) -> None:
        if stream:
            await wire.stream_progress(http, url, request_id, stream)
        else:
            await wire.tools_list(http, url, request_id)

    async with wire.client(2) as http:
        for request_id in range(1, warmup + 1):
            await call(http, request_id)
        await asyncio.to_thread(wait_idle, [proxy])
        stages = snapshot(proxy)
        before, tree_before = proxy.own_cpu_seconds(), proxy.cpu_seconds()
        for request_id in range(warmup + 1, warmup + count + 1):
            await call(http, request_id)
        await asyncio.to_thread(wait_idle, [proxy])
        cpu, tree = proxy.own_cpu_seconds() - before, proxy.cpu_seconds() - tree_before
        after = snapshot(proxy)
        spent = {stage: after[stage] - stages.get(stage, 0.0) for stage in after}
        return cpu, {**spent, "writer process": tree - cpu}


def main() -> int:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--no-check", action="store_true", help="the proxy without its judges")
    parser.add_argument(
        "--stream", type=int, default=0, metavar="EVENTS", help="progress streams, per event"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        with demo_server(directory) as (direct, _server):
            flags = ["--record", str(directory / "rec.yaml")]
            flags += ["--no-check"] if args.no_check else []
            script = str(Path(__file__).resolve())
            command = [sys.executable, script, "--child", "proxy", "--target", direct]
            proxy = Child("proxy", [*command, "--port", "0", *flags], directory)
            try:
                url = proxy.wait_for(r"point your client at (\S+)").group(1)
                cpu, stages = asyncio.run(calls(url, args.warmup, args.calls, proxy, args.stream))
            finally:
                proxy.stop()
    units = args.calls * (args.stream or 1)
    per_call = {stage: seconds / units * 1e6 for stage, seconds in stages.items()}
    total = cpu / units * 1e6 + per_call["writer process"]
    unit = "streamed event" if args.stream else "tools/list call"
    print(f"proxy CPU per {unit}: {total:.1f} us", end=" ")
    print(f"({args.calls} calls, load {os.getloadavg()[0]:.1f})")
    per_call["other"] = total - sum(per_call.values())
    for stage, us in sorted(per_call.items(), key=lambda item: -item[1]):
        print(f"  {stage:16} {us:6.1f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
