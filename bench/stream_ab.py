"""The HTTP 5,000-event stream through the working tree's proxy and a revision's, alternating.

    uv run python bench/stream_ab.py REV [--rounds 12] [--count 5000]

Starts one demo server and two `mcp-tap proxy` processes as a user runs them (recording, view
on, stdout to a file): one of REV (checked out into a temporary worktree, as `budget.py`
does) and one of the working tree. Each round times the demo server's `stream_progress` of
`--count` events directly and through each proxy, every process idle before each stream; the
proxies go in the opposite order every other round, since on a 2-core machine the second of
two back-to-back streams reads slower (the same code read x1.20 second against x1.02 first).
Prints each version's median ratio to direct and the per-round ratio of REV to the tree:

    direct 229 ms  REV x1.092  tree x1.086  (REV/tree per round: 1.02, 0.93, ...)

A benchmark, not a test: a round's ratio moves by 20-30 % on the 2-core VM, so compare the
medians of ten rounds or more.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

import wire
from budget import revision_and_tree_proxies
from children import wait_idle

WARMUP_EVENTS = 200  # a short stream first: connections made, caches warm


async def one_stream(url: str, request_id: int, count: int) -> float:
    """Seconds a `stream_progress` of `count` events takes, on a fresh warmed client."""
    async with wire.client(2) as http:
        await wire.stream_progress(http, url, request_id, WARMUP_EVENTS)
        started = time.perf_counter()
        await wire.stream_progress(http, url, request_id + 1, count)
        return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("revision", help="the git revision to compare the working tree with")
    parser.add_argument("--rounds", type=int, default=12, help="rounds (one stream each)")
    parser.add_argument("--count", type=int, default=5000, help="events a stream")
    args = parser.parse_args()
    if args.rounds < 1 or args.count < 1:
        print("stream_ab: --rounds and --count must be positive", file=sys.stderr)
        return 2
    with contextlib.ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        direct, server, proxied, proxies = revision_and_tree_proxies(
            stack, args.revision, directory, []
        )
        urls = {"direct": direct, **proxied}
        children = [server, *proxies.values()]
        seconds: dict[str, list[float]] = {name: [] for name in urls}
        for number in range(args.rounds):
            order = list(proxied) if number % 2 == 0 else list(proxied)[::-1]
            for name in ["direct", *order]:
                wait_idle(children)
                seconds[name].append(asyncio.run(one_stream(urls[name], 10 * number, args.count)))
    base = statistics.median(seconds["direct"])
    ratios = {name: statistics.median(seconds[name]) / base for name in proxied}
    per_round = ", ".join(
        f"{old / new:.2f}" for old, new in zip(seconds[args.revision], seconds["tree"], strict=True)
    )
    print(
        f"direct {base * 1e3:.0f} ms  {args.revision} x{ratios[args.revision]:.3f}  "
        f"tree x{ratios['tree']:.3f}  ({args.revision}/tree per round: {per_round})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
