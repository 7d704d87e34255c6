"""What the live judges cost the forwarding: `proxy` and `stdio` with and without --no-check.

    uv run python bench/checkers_cost.py                 # ~2 minutes on 2 shared CPUs
    uv run python bench/checkers_cost.py --blocks 20 --floods 3 --rounds 1   # shorter

The judges (schema, tool, lifecycle, capability, id and 2026-07-28 checkers) are bus
subscribers: they run after the bytes have been forwarded, on the next turn of the loop. This
measures whether that keeps them off the forwarding path, interleaved so that a machine that
drifts shifts both alike:

* HTTP: one demo server, one `mcp-tap proxy` as a user runs it (recording on, view on) and
  one the same with `--no-check`. tools/list round trips in blocks of 30 that rotate through
  direct, judged and unjudged (as compare.py does); then a call streaming N progress
  notifications, each run taking the three in turn. Proxy CPU per call and per flood too.
* stdio: bench/stdio.py's pings one at a time and its notification flood, after a handshake
  (so every message has a revision to be judged by; the flood is a tools/call asking for
  progress), direct, through `mcp-tap stdio --record` and through `mcp-tap stdio --record
  --no-check`, in rounds; the CPU of each run's processes (mcp-tap and the server it waits
  for) from getrusage.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import statistics
import sys
import tempfile
from pathlib import Path

import stdio
import wire
from children import Child, demo_server, python_module
from compare import CALLS_PER_BLOCK, alternate
from run import percentile

PROXIES = {"judged": [], "--no-check": ["--no-check"]}


def proxy(name: str, direct: str, directory: Path, flags: list[str]) -> tuple[str, Child]:
    recording = str(directory / f"{name.strip('-')}.yaml")
    command = python_module(
        "mcp_tap", "proxy", "--target", direct, "--port", "0", "--record", recording, *flags
    )
    child = Child(name.strip("-"), command, directory)
    return child.wait_for(r"point your client at (\S+)").group(1), child


async def floods(urls: dict[str, str], runs: int, count: int) -> dict[str, list[float]]:
    """Seconds for a call streaming `count` progress notifications, per URL, in turns."""
    names = list(urls)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    async with wire.client(2) as http:
        for name in names:  # warm-up: connections, imports, first-call paths
            await wire.stream_progress(http, urls[name], 1, 200)
        for run in range(runs):
            order = names[run % len(names) :] + names[: run % len(names)]
            for name in order:
                result = await wire.stream_progress(http, urls[name], 10 + run, count)
                seconds[name].append(result.seconds)
    return seconds


def http(blocks: int, runs: int, count: int) -> None:
    with contextlib.ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        direct, _server = stack.enter_context(demo_server(directory))
        urls = {"direct": direct}
        children: dict[str, Child] = {}
        for name, flags in PROXIES.items():
            urls[name], children[name] = proxy(name, direct, directory, flags)
            stack.callback(children[name].stop)
        cpu = {name: child.cpu_seconds() for name, child in children.items()}
        samples = asyncio.run(alternate(urls, blocks))
        calls = blocks * CALLS_PER_BLOCK
        base = samples["direct"]
        print(f"HTTP tools/list, {calls} calls each; direct p50 {percentile(base, 50):.3f} ms")
        print(f"  {'proxy':12} {'+p50 ms':>8} {'+p90 ms':>8} {'+p99 ms':>8} {'CPU/call':>9}")
        for name, child in children.items():
            added = [percentile(samples[name], p) - percentile(base, p) for p in (50, 90, 99)]
            per_call = (child.cpu_seconds() - cpu[name]) / calls * 1e6
            print(
                f"  {name:12} {added[0]:+8.3f} {added[1]:+8.3f} {added[2]:+8.3f} {per_call:6.0f} us"
            )
        cpu = {name: child.cpu_seconds() for name, child in children.items()}
        times = asyncio.run(floods(urls, runs, count))
        direct_s = statistics.median(times["direct"])
        print(f"HTTP flood of {count} progress notifications, median of {runs} runs each:")
        print(f"  {'direct':12} {direct_s:.3f} s")
        for name, child in children.items():
            median = statistics.median(times[name])
            per_flood = (child.cpu_seconds() - cpu[name]) / (runs + 1)  # + the warm-up's
            print(
                f"  {name:12} {median:.3f} s  x{median / direct_s:.2f} of direct  "
                f"proxy CPU {per_flood:.3f} s a flood"
            )


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def stdio_runs(rounds: int, calls: int, count: int) -> None:
    modes = ("direct", "tap", "tap-no-check")
    p50: dict[str, list[float]] = {mode: [] for mode in modes}
    rate: dict[str, list[float]] = {mode: [] for mode in modes}
    cpu: dict[str, list[float]] = {mode: [] for mode in modes}
    with tempfile.TemporaryDirectory() as directory:
        for number in range(rounds):
            order = modes[number % 3 :] + modes[: number % 3]
            for mode in order:
                record = Path(directory) / f"{mode}-{number}.yaml"
                p50[mode].append(
                    statistics.median(stdio.latencies(mode, calls, record, session=True))
                )
                record = Path(directory) / f"{mode}-flood-{number}.yaml"
                before = children_cpu()
                rate[mode].append(count / stdio.flood(mode, count, record, session=True))
                cpu[mode].append(children_cpu() - before)
    median = statistics.median
    print(f"stdio, {calls} pings one at a time and a flood of {count}; medians of {rounds} rounds:")
    for mode in modes:
        added = median(p50[mode]) - median(p50["direct"])
        ratio = median(rate[mode]) / median(rate["direct"])
        print(
            f"  {mode:12} ping p50 {median(p50[mode]):.3f} ms"
            + (f" ({added:+.3f})" if mode != "direct" else "          ")
            + f"  flood {median(rate[mode]):,.0f}/s"
            + (f" x{ratio:.2f}" if mode != "direct" else "      ")
            + f"  CPU {median(cpu[mode]):.2f} s a flood"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=60, help="HTTP blocks of 30 tools/list")
    parser.add_argument("--floods", type=int, default=7, help="HTTP flood runs per target")
    parser.add_argument("--notifications", type=int, default=5000, help="HTTP flood size")
    parser.add_argument("--rounds", type=int, default=3, help="stdio rounds")
    parser.add_argument("--calls", type=int, default=2000, help="stdio pings per round")
    parser.add_argument("--stdio-notifications", type=int, default=100_000)
    args = parser.parse_args()
    print(f"nproc {os.cpu_count()}, Python {sys.version.split()[0]}, load {os.getloadavg()[0]:.1f}")
    http(args.blocks, args.floods, args.notifications)
    stdio_runs(args.rounds, args.calls, args.stdio_notifications)
    return 0


if __name__ == "__main__":
    sys.exit(main())
