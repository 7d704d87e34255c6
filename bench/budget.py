"""The CPU budget: proxy CPU per tools/list exchange, the working tree against a git revision.

    uv run python bench/budget.py REV [--rounds 8] [--blocks 60] [--budget 10]

Starts one demo server, one `mcp-tap proxy` for REV (checked out into a temporary worktree,
as compare.py does) and one for the working tree, both as a user runs them (recording to a
temp file, view on, stdout to a file). Then it sends tools/list calls in blocks of 30 that
alternate between the two proxies, and reads each proxy's CPU time (/proc, all threads)
around every round of blocks, so a slow phase of the machine hits both alike. The figure per
version is the median of its rounds' CPU per call. Prints one line:

    cpu/exchange: REV 812 us -> tree 790 us (-2.7 %) ok (8 rounds, load 3.4)

and exits 1 when the tree's figure grew more than the budget (10 %). A benchmark, not a
test: run it before each change to the forwarding path and put its line in the commit
message. The load average is the 1-minute one at the end of the run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
from pathlib import Path

import wire
from children import ROOT, Child, demo_server, python_module, wait_idle
from compare import CALLS_PER_BLOCK, WARMUP, worktree


def start_proxy(name: str, tree: Path, target: str, directory: Path, flags: list[str]) -> Child:
    """`python -m mcp_tap proxy` from `tree`, recording into `directory` unless told not to."""
    record = flags or ["--record", str(directory / f"{name}.yaml")]
    command = python_module("mcp_tap", "proxy", "--target", target, "--port", "0", *record)
    return Child(name, command, directory, cwd=tree)


def revision_and_tree_proxies(
    stack: contextlib.ExitStack, revision: str, directory: Path, flags: list[str]
) -> tuple[str, Child, dict[str, str], dict[str, Child]]:
    """A demo server, and a proxy to it of `revision` and one of the working tree, each as a
    user runs it (stopped when `stack` closes): the server's URL and process, then each
    proxy's URL and process by name (`revision`, "tree")."""
    trees = {revision: stack.enter_context(worktree(revision, directory)), "tree": ROOT}
    direct, server = stack.enter_context(demo_server(directory))
    urls: dict[str, str] = {}
    children: dict[str, Child] = {}
    for number, (name, tree) in enumerate(trees.items()):
        child = start_proxy(f"proxy-{number}", tree, direct, directory, flags)
        stack.callback(child.stop)
        urls[name] = child.wait_for(r"point your client at (\S+)").group(1)
        children[name] = child
    return direct, server, urls, children


async def rounds(
    urls: dict[str, str], children: dict[str, Child], count: int, blocks: int
) -> dict[str, list[float]]:
    """CPU (us) per call of each proxy, one figure per round of `blocks` blocks each."""
    names = list(urls)
    per_call: dict[str, list[float]] = {name: [] for name in names}
    async with contextlib.AsyncExitStack() as stack:
        clients = {name: await stack.enter_async_context(wire.client(2)) for name in names}
        request_id = 0
        for name in names:
            for _ in range(WARMUP):
                request_id += 1
                await wire.tools_list(clients[name], urls[name], request_id)
        await asyncio.to_thread(wait_idle, list(children.values()))
        for number in range(count):
            before = {name: children[name].cpu_seconds() for name in names}
            for block in range(blocks):
                # Who goes first alternates by block and by round.
                order = names if (block + number) % 2 == 0 else names[::-1]
                for name in order:
                    for _ in range(CALLS_PER_BLOCK):
                        request_id += 1
                        await wire.tools_list(clients[name], urls[name], request_id)
            # The recorder writes a round's last events after its last call: count them in it.
            await asyncio.to_thread(wait_idle, list(children.values()), 10.0, 0.15)
            for name in names:
                spent = children[name].cpu_seconds() - before[name]
                per_call[name].append(spent / (blocks * CALLS_PER_BLOCK) * 1e6)
    return per_call


def verdict(revision: str, old: float, new: float, budget: float, detail: str) -> tuple[str, int]:
    """The one line, and the exit code: 1 when `new` is more than `budget` % above `old`."""
    change = (new - old) / old * 100
    head = f"cpu/exchange: {revision} {old:.0f} us -> tree {new:.0f} us"
    if change > budget:
        return f"{head} GREW {change:.1f} % (budget {budget:g} %) ({detail})", 1
    return f"{head} ({change:+.1f} %) ok ({detail})", 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("revision", help="the git revision to compare the working tree with")
    parser.add_argument("--rounds", type=int, default=8, help="rounds (one CPU figure each)")
    parser.add_argument(
        "--blocks",
        type=int,
        default=60,  # CPU time counts in 10 ms ticks: a round needs thousands of calls
        help="blocks of 30 calls per round",
    )
    parser.add_argument("--budget", type=float, default=10.0, help="allowed growth, percent")
    parser.add_argument("--no-record", action="store_true", help="run both proxies unrecorded")
    args = parser.parse_args()
    if args.rounds < 1 or args.blocks < 1 or args.budget < 0:
        print(
            "budget: --rounds and --blocks must be positive, --budget not negative", file=sys.stderr
        )
        return 2
    flags = ["--no-record"] if args.no_record else []
    with contextlib.ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        _, _, urls, children = revision_and_tree_proxies(stack, args.revision, directory, flags)
        per_call = asyncio.run(rounds(urls, children, args.rounds, args.blocks))
    old = statistics.median(per_call[args.revision])
    new = statistics.median(per_call["tree"])
    calls = args.blocks * CALLS_PER_BLOCK
    detail = f"{args.rounds} rounds of {calls} calls, load {os.getloadavg()[0]:.1f}"
    line, code = verdict(args.revision, old, new, args.budget, detail)
    print(line)
    return code


if __name__ == "__main__":
    sys.exit(main())
