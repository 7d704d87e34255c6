"""Peak memory and wall time of the commands that read a recording, by recording size.

    uv run python bench/recording_memory.py                  # 10k, 100k and 1M events
    uv run python bench/recording_memory.py --sizes 10000    # one size

For each size, writes a recording of the demo server's `stream_progress` tool to a temp
directory (`big_recording.py`: calls of 10 notifications, 15 events each), then runs, as
real `mcp-tap` processes, one at a time:

- `show FILE > /dev/null` (the plain view, piped);
- `export --format jsonl FILE > /dev/null`;
- `report FILE -o page.html`;
- `check FILE > /dev/null` (every rule, the text report);
- `replay FILE --fast --quiet --target URL` against a demo server started once, in its
  own process (`python -m demo_server --step-delay 0`), so its memory is not counted.
  Replay sends every call (6,666 for 100k events, about 40 s on 2 CPUs); it is left out
  above `--replay-max` events (default 100,000): a million events take several minutes.

Each command runs under a small Python wrapper that waits for it and reads
`resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`, so the figure is the command's own peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.big_recording import write_recording  # noqa: E402

# Runs argv, waits, prints its peak RSS (KiB) and exit code as JSON on stderr's last line.
WRAPPER = """
import json, resource, subprocess, sys
code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"peak_kib": peak, "code": code}), file=sys.stderr)
"""


def measure(argv: Sequence[str]) -> dict[str, float]:
    """Peak RSS (MB) and wall seconds of `argv` run as its own process."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", WRAPPER, *argv],
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        check=False,
    )
    seconds = time.perf_counter() - started
    lines = result.stderr.strip().splitlines()
    report = json.loads(lines[-1])
    if report["code"] not in (0, 1):  # 1: replay diverged, still a complete run
        raise SystemExit(f"{' '.join(argv)} failed ({report['code']}): {lines[-2:]}")
    return {"peak_mb": report["peak_kib"] / 1024, "seconds": seconds}


@contextmanager
def demo_server() -> Iterator[str]:
    """The bundled demo server in its own process; yields its MCP URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "demo_server", "--port", "0", "--step-delay", "0"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # "progress-demo: http://127.0.0.1:PORT/mcp (...)"
        yield line.split()[1]
    finally:
        process.terminate()
        process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--replay-max", type=int, default=100_000)
    args = parser.parse_args()
    mcp_tap = [sys.executable, "-m", "mcp_tap"]
    print(f"nproc {os.cpu_count()}, Python {sys.version.split()[0]}")
    print(f"{'events':>9} {'MB':>6} {'command':<26} {'peak RSS':>10} {'wall':>8}")
    with tempfile.TemporaryDirectory() as temp, demo_server() as url:
        directory = Path(temp)
        for size in args.sizes:
            path = directory / f"{size}.yaml"
            count = write_recording(path, size)
            mb = path.stat().st_size / 1e6
            page = directory / "page.html"
            runs = {
                "show > /dev/null": [*mcp_tap, "show", str(path)],
                "export --format jsonl": [*mcp_tap, "export", "--format", "jsonl", str(path)],
                "report -o page.html": [*mcp_tap, "report", str(path), "-o", str(page)],
                "check": [*mcp_tap, "check", str(path)],
            }
            if size <= args.replay_max:
                replay = [*mcp_tap, "replay", str(path), "--fast", "--quiet", "--target", url]
                runs["replay --fast"] = replay
            for name, argv in runs.items():
                figures = measure(argv)
                print(
                    f"{count:>9,} {mb:>6.1f} {name:<26} {figures['peak_mb']:>7.0f} MB "
                    f"{figures['seconds']:>7.1f}s",
                    flush=True,
                )
            path.unlink()


if __name__ == "__main__":
    main()
