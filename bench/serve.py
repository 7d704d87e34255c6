"""`mcp-tap serve` benchmark: the mock against the demo server it was recorded from.

    uv run python bench/serve.py [--calls 2000] [--runs 5] [--json out.json]

1. Records, through `mcp-tap proxy`, one tools/list and one 10,000-notification
   `stream_progress` call to the demo server (`python -m demo_server --step-delay 0`).
2. Serves that recording with `python -m mcp_tap serve --fast` (view on, stdout to a file, as a
   user runs it) and measures, with the raw 2026-07-28 client of `wire.py`:
   - tools/list latency, demo server directly vs the mock, in alternating blocks (p50, p99);
   - the 10,000-notification stream, demo server vs the mock: notifications per second.
The issue's floors: tools/list from the mock at least as fast; the stream at >= 0.9x the
demo server's rate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import wire
from children import demo_server, python_module, running, tap_proxy, wait_idle

STREAM_COUNT = 10_000


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def record_session(proxied: str) -> None:
    async with wire.client(1) as http:
        await wire.tools_list(http, proxied, 1)
        await wire.stream_progress(http, proxied, 2, STREAM_COUNT)


async def latency(direct: str, mock: str, calls: int, blocks: int = 20) -> dict[str, Any]:
    samples: dict[str, list[float]] = {"direct": [], "mock": []}
    urls = {"direct": direct, "mock": mock}
    async with wire.client(1) as direct_http, wire.client(1) as mock_http:
        clients = {"direct": direct_http, "mock": mock_http}
        for name in urls:  # warm-up
            for i in range(100):
                await wire.tools_list(clients[name], urls[name], i + 1)
        per_block = calls // blocks
        for number in range(blocks):
            order = ("direct", "mock") if number % 2 == 0 else ("mock", "direct")
            for name in order:
                for i in range(per_block):
                    seconds = await wire.tools_list(clients[name], urls[name], 1000 + i)
                    samples[name].append(seconds * 1e3)
    return {
        name: {"p50_ms": percentile(values, 50), "p99_ms": percentile(values, 99)}
        for name, values in samples.items()
    } | {"calls_each": len(samples["direct"])}


async def stream(direct: str, mock: str, runs: int) -> dict[str, Any]:
    times: dict[str, list[float]] = {"direct": [], "mock": []}
    async with wire.client(1) as http:
        for run in range(runs):
            for name, url in (("direct", direct), ("mock", mock)):
                result = await wire.stream_progress(http, url, 10 + run, STREAM_COUNT)
                times[name].append(result.seconds)
    direct_s, mock_s = statistics.median(times["direct"]), statistics.median(times["mock"])
    return {
        "notifications": STREAM_COUNT,
        "runs_each": runs,
        "direct_median_s": direct_s,
        "mock_median_s": mock_s,
        "direct_events_per_s": STREAM_COUNT / direct_s,
        "mock_events_per_s": STREAM_COUNT / mock_s,
        "rate_ratio": direct_s / mock_s,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=2000, help="tools/list calls on each side")
    parser.add_argument("--runs", type=int, default=5, help="10,000-notification streams each")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mcp-tap-serve-bench-") as name:
        work = Path(name)
        recording = work / "stream.yaml"
        with demo_server(work) as (direct, server):
            with tap_proxy("proxy", direct, work, recording) as (proxied, proxy):
                asyncio.run(record_session(proxied))
                wait_idle([proxy])
            serve_args = python_module("mcp_tap", "serve", str(recording), "--port", "0", "--fast")
            with running("serve", serve_args, work) as mock_child:
                mock = mock_child.wait_for(r"point your client at (\S+)").group(1)
                started = time.monotonic()
                figures = {
                    "tools_list": asyncio.run(latency(direct, mock, args.calls)),
                    "stream": asyncio.run(stream(direct, mock, args.runs)),
                }
                figures["seconds"] = time.monotonic() - started
                wait_idle([mock_child, server])
    tools, flow = figures["tools_list"], figures["stream"]
    print(
        f"tools/list p50: direct {tools['direct']['p50_ms']:.3f} ms, mock "
        f"{tools['mock']['p50_ms']:.3f} ms; p99: direct {tools['direct']['p99_ms']:.3f} ms, "
        f"mock {tools['mock']['p99_ms']:.3f} ms ({tools['calls_each']} calls each) "
        f"[{'PASS' if tools['mock']['p50_ms'] <= tools['direct']['p50_ms'] else 'FAIL'}]"
    )
    print(
        f"{STREAM_COUNT:,}-notification stream: direct {flow['direct_events_per_s']:,.0f}/s, "
        f"mock --fast {flow['mock_events_per_s']:,.0f}/s, ratio {flow['rate_ratio']:.2f}x "
        f"(median of {flow['runs_each']}) [{'PASS' if flow['rate_ratio'] >= 0.9 else 'FAIL'}]"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
