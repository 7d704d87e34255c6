"""What each part of `mcp-tap proxy` costs: CPU per tools/list exchange, feature by feature.

    uv run python bench/features.py [--rounds 6] [--blocks 30]

Starts one demo server and four proxies of the working tree, each with one more part turned
off: as a user runs it (recording, judges, view), `--no-record`, `--no-record --no-check`,
and `--no-record --no-check --quiet`. tools/list calls go in blocks of 30 that alternate
between them (the same rounds as `budget.py`: each proxy's CPU, its whole process tree, read
around every round), and each figure is the median of its rounds. Prints each proxy's CPU
per call and what the part its neighbour turned off costs:

    all on                       656 us
    --no-record                  556 us   the recorder (feed and writer process) 100 us
    ...
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

from budget import rounds, start_proxy
from children import ROOT, Child, demo_server

# each proxy's flags, and what turning off its neighbour's part saved
FEATURES = (
    ("all on", [], ""),
    ("--no-record", ["--no-record"], "the recorder (feed and writer process)"),
    ("--no-record --no-check", ["--no-record", "--no-check"], "the schema and conformance judges"),
    ("... --quiet", ["--no-record", "--no-check", "--quiet"], "the view's message lines"),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6, help="rounds (one CPU figure each)")
    parser.add_argument("--blocks", type=int, default=30, help="blocks of 30 calls per round")
    args = parser.parse_args()
    if args.rounds < 1 or args.blocks < 1:
        print("features: --rounds and --blocks must be positive", file=sys.stderr)
        return 2
    with contextlib.ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        direct, _server = stack.enter_context(demo_server(directory))
        urls: dict[str, str] = {}
        children: dict[str, Child] = {}
        for number, (name, flags, _) in enumerate(FEATURES):
            # flags replace the recording ones: the first proxy records as a user's does
            child = start_proxy(f"proxy-{number}", ROOT, direct, directory, flags)
            stack.callback(child.stop)
            urls[name] = child.wait_for(r"point your client at (\S+)").group(1)
            children[name] = child
        per_call = asyncio.run(rounds(urls, children, args.rounds, args.blocks))
    previous = None
    for name, _, saved in FEATURES:
        figure = statistics.median(per_call[name])
        part = f"   {saved} {previous - figure:.0f} us" if previous is not None else ""
        print(f"{name:<26} {figure:5.0f} us{part}")
        previous = figure
    print(f"({args.rounds} rounds of {args.blocks * 30} calls, load {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
