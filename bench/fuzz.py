"""The fuzz suite's properties (tests/fuzz/targets.py) with a budget a hundred times CI's.

    uv run python bench/fuzz.py                       # 20,000 inputs a target
    uv run python bench/fuzz.py --examples 2000 sse-split lines-split
    MCP_TAP_FUZZ_EXAMPLES=50000 uv run python bench/fuzz.py

Unlike CI, the inputs are random (a new seed each run, printed), so each run tries new ones.
Prints, for each target, the inputs tried, the time taken and whether the property failed;
a failure is shrunk by hypothesis and printed. Exit status 1 when any property failed that
is not marked pending (a change under way, as in tests/fuzz/test_fuzz.py).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests package

from hypothesis import HealthCheck, given, seed, settings  # noqa: E402

from tests.fuzz.targets import TARGETS, Target  # noqa: E402

DEFAULT_EXAMPLES = 20_000


def run_target(target: Target, examples: int, run_seed: int) -> tuple[int, float, str | None]:
    """Fuzz one target; the inputs tried, the seconds taken, and the failure if any."""
    tried = 0

    def counted(value: Any) -> None:
        nonlocal tried
        tried += 1
        target.check(value)

    budget = settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    run = seed(run_seed)(given(target.strategy)(budget(counted)))
    started = time.perf_counter()
    try:
        run()
    except Exception as error:  # the property failed: hypothesis raised its shrunk example
        failure = "".join(traceback.format_exception_only(error)).strip()
        notes = "\n".join(getattr(error, "__notes__", []))
        return tried, time.perf_counter() - started, f"{failure}\n{notes}".strip()
    return tried, time.perf_counter() - started, None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", help="target names (default: all)")
    parser.add_argument(
        "--examples",
        type=int,
        default=int(os.environ.get("MCP_TAP_FUZZ_EXAMPLES", DEFAULT_EXAMPLES)),
        help=f"inputs a target (default {DEFAULT_EXAMPLES}, or MCP_TAP_FUZZ_EXAMPLES)",
    )
    parser.add_argument("--seed", type=int, help="the run's seed (default: a new one)")
    args = parser.parse_args()
    chosen = [t for t in TARGETS if not args.targets or t.name in args.targets]
    unknown = set(args.targets) - {t.name for t in TARGETS}
    if unknown:
        parser.error(f"unknown targets: {', '.join(sorted(unknown))}")
    run_seed = args.seed if args.seed is not None else random.randrange(2**32)
    print(f"seed {run_seed}, up to {args.examples} inputs a target", flush=True)
    print(f"{'target':<22} {'inputs':>8} {'seconds':>8}  result", flush=True)
    total, crashes, started = 0, 0, time.perf_counter()
    for target in chosen:
        tried, seconds, failure = run_target(target, args.examples, run_seed)
        total += tried
        if failure is None:
            result = "ok"
        elif target.pending:
            result = f"fails, as expected until: {target.pending}"
        else:
            crashes += 1
            result = "FAILED"
        print(f"{target.name:<22} {tried:>8} {seconds:>8.1f}  {result}", flush=True)
        if failure is not None and not target.pending:
            print("    " + failure.replace("\n", "\n    "), flush=True)
    elapsed = time.perf_counter() - started
    print(f"{total} inputs in {elapsed:.0f} s, {crashes} properties failed", flush=True)
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
