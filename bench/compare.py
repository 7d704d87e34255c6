"""Test 1 (tools/list latency) for several versions of mcp-tap, side by side in one session.

    uv run python bench/compare.py [REV ...] [--no-record] [--blocks 90]

Starts one demo server and one `mcp-tap proxy` per version: the working tree, plus each git
revision given (checked out into a temporary worktree; all run on this environment's
packages). Then it sends tools/list calls in alternating blocks of 30 to the server directly
and through every proxy in turn, so a slow phase of this machine hits every version alike,
and prints each version's added p50, p90 and p99 and its CPU per call. Comparing two runs of
run.py instead compares two phases of the machine as much as two versions of the code.

`--pin C,S,P` pins this client to CPU C, the demo server to S and every proxy to P, to see
what the placement of three busy processes on few cores does to the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import wire
from children import ROOT, Child, demo_server, python_module
from run import percentile

CALLS_PER_BLOCK = 30
WARMUP = 100


@contextlib.contextmanager
def worktree(revision: str, directory: Path) -> Iterator[Path]:
    """`revision` checked out (detached) under `directory`; removed afterwards."""
    path = directory / ("tree-" + "".join(c if c.isalnum() else "-" for c in revision))
    git = ["git", "-C", str(ROOT)]
    known = [*git, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"]
    if subprocess.run(known, capture_output=True, check=False).returncode != 0:
        print(f"{Path(sys.argv[0]).stem}: {revision!r} is not a git revision", file=sys.stderr)
        raise SystemExit(2)
    subprocess.run([*git, "worktree", "add", "--detach", "-q", str(path), revision], check=True)
    try:
        yield path
    finally:
        subprocess.run([*git, "worktree", "remove", "--force", str(path)], check=False)


async def alternate(urls: dict[str, str], blocks: int) -> dict[str, list[float]]:
    """tools/list round trips (ms) per URL, in blocks that rotate through the URLs."""
    names = list(urls)
    samples: dict[str, list[float]] = {name: [] for name in names}
    async with contextlib.AsyncExitStack() as stack:
        clients = {name: await stack.enter_async_context(wire.client(2)) for name in names}
        request_id = 0
        for name in names:
            for _ in range(WARMUP):
                request_id += 1
                await wire.tools_list(clients[name], urls[name], request_id)
        for block in range(blocks):
            order = names[block % len(names) :] + names[: block % len(names)]
            for name in order if block % 2 == 0 else order[::-1]:
                for _ in range(CALLS_PER_BLOCK):
                    request_id += 1
                    seconds = await wire.tools_list(clients[name], urls[name], request_id)
                    samples[name].append(seconds * 1e3)
    return samples


def pin(pid: int, cpu: int) -> None:
    """Keep every thread of process `pid` on `cpu`."""
    for thread in os.listdir(f"/proc/{pid}/task"):
        os.sched_setaffinity(int(thread), {cpu})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("revisions", nargs="*", help="git revisions to compare with the tree")
    parser.add_argument("--no-record", action="store_true", help="run every proxy unrecorded")
    parser.add_argument("--blocks", type=int, default=90, help="blocks of 30 calls per target")
    parser.add_argument("--pin", metavar="C,S,P", help="CPUs for client, server and proxies")
    args = parser.parse_args()
    cpus = [int(cpu) for cpu in args.pin.split(",")] if args.pin else None
    with contextlib.ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        trees = {"working tree": ROOT}
        for revision in args.revisions:
            trees[revision] = stack.enter_context(worktree(revision, directory))
        direct, server = stack.enter_context(demo_server(directory))
        if cpus:
            pin(os.getpid(), cpus[0])
            pin(server.pid, cpus[1])
        urls = {"direct": direct}
        proxies: dict[str, Child] = {}
        for number, (name, tree) in enumerate(trees.items()):
            recording = str(directory / f"{number}.yaml")
            record = ["--no-record"] if args.no_record else ["--record", recording]
            command = python_module("mcp_tap", "proxy", "--target", direct, "--port", "0", *record)
            proxy = Child(f"proxy-{number}", command, directory, cwd=tree)
            stack.callback(proxy.stop)
            urls[name] = proxy.wait_for(r"point your client at (\S+)").group(1)
            proxies[name] = proxy
            if cpus:
                pin(proxy.pid, cpus[2])  # after start-up: the recorder thread exists by then
        cpu_before = {name: proxy.cpu_seconds() for name, proxy in proxies.items()}
        samples = asyncio.run(alternate(urls, args.blocks))
        calls = args.blocks * CALLS_PER_BLOCK
        base = samples["direct"]
        print(f"tools/list, {calls} calls per target; direct p50 {percentile(base, 50):.3f} ms")
        print(f"{'version':16} {'+p50 ms':>8} {'+p90 ms':>8} {'+p99 ms':>8} {'CPU/call':>9}")
        for name, proxy in proxies.items():
            added = [percentile(samples[name], p) - percentile(base, p) for p in (50, 90, 99)]
            cpu = (proxy.cpu_seconds() - cpu_before[name]) / calls * 1e6
            print(f"{name:16} {added[0]:+8.3f} {added[1]:+8.3f} {added[2]:+8.3f} {cpu:7.0f} us")


if __name__ == "__main__":
    main()
